// Precision policies: BF16 autocast where it belongs, FP16 loss scaling like PyTorch's GradScaler.
#include "testing.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <torchtrain/torchtrain.hpp>

#include "digits/digits.hpp"

namespace precision_tests {

// Records whether autocast was on, and in which dtype the model computed, during forward.
struct ProbeImpl : torch::nn::Module {
  ProbeImpl() : linear(register_module("linear", torch::nn::Linear(4, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    autocast_in_forward.push_back(at::autocast::is_autocast_enabled(x.device().type()));
    auto y = linear(x);
    output_dtypes.push_back(y.scalar_type());
    return y;
  }
  torch::nn::Linear linear;
  std::vector<bool> autocast_in_forward;
  std::vector<c10::ScalarType> output_dtypes;
};
TORCH_MODULE(Probe);

// Checks, at the optimizer step, that autocast is off and everything is float32.
struct OptimizerStepProbe {
  Probe model;
  std::vector<bool>* autocast_at_step;
  std::vector<bool>* float32_at_step;
  void on_pre_optimizer_step(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
    autocast_at_step->push_back(at::autocast::is_autocast_enabled(c10::DeviceType::CPU) ||
                                at::autocast::is_autocast_enabled(c10::DeviceType::CUDA));
    bool all_float = true;
    for (const auto& p : model->parameters())
      all_float = all_float && p.scalar_type() == torch::kFloat && p.grad().scalar_type() == torch::kFloat;
    float32_at_step->push_back(all_float);
  }
};

tt::data::TensorDataset small_classification() {
  torch::manual_seed(5);
  auto inputs = torch::randn({40, 4});
  return {inputs, inputs.argmax(1) % 3};
}

// Returns inf logits on its first forward, so the first step's gradients are not finite.
struct PoisonedOnceImpl : torch::nn::Module {
  PoisonedOnceImpl() : linear(register_module("linear", torch::nn::Linear(4, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = linear(x);
    return calls++ == 0 ? y * std::numeric_limits<float>::infinity() : y;
  }
  torch::nn::Linear linear;
  int calls = 0;
};
TORCH_MODULE(PoisonedOnce);

struct WeightRecorder {
  PoisonedOnce model;
  std::vector<torch::Tensor>* weights;
  void on_step_end(const tt::TrainingArguments&, const tt::TrainerState&, tt::TrainerControl&) {
    weights->push_back(model->linear->weight.clone());
  }
};

// FP16's loss scaling without float16 autocast, so that the arithmetic the test checks is
// float32's (a test double of a policy).
struct LossScaledFP32 : tt::FP16Precision<tt::GradScalerOptions{.init_scale = 1024.0, .growth_interval = 3}> {
  std::vector<double>* scales = nullptr;  // after each optimizer step
  void setup(torch::Device) {}
  template <class Forward>
  decltype(auto) autocast(Forward&& forward) { return forward(); }
  bool optimizer_step(torch::optim::Optimizer& optimizer) {
    bool stepped = FP16Precision::optimizer_step(optimizer);
    scales->push_back(scaler.get_scale());
    return stepped;
  }
};

// Trains Probe for 3 steps with `Precision` on `device`, then evaluates; checks that forward
// ran under autocast in `dtype` in both, the optimizer step outside it on float32 weights and
// gradients, and autocast off before and after.
template <class Precision>
void check_autocast_in_forward_only(torch::Device device, c10::ScalarType dtype) {
  Probe model;
  std::vector<bool> autocast_at_step, float32_at_step;
  tt::Trainer<Precision> trainer(model,
                                 {.max_steps = 3, .use_cpu = device.is_cpu()},
                                 small_classification(), small_classification(), tt::loss::cross_entropy,
                                 tt::NoMetrics{},
                                 tt::callbacks(OptimizerStepProbe{model, &autocast_at_step, &float32_at_step}));
  DOCTEST_CHECK(!at::autocast::is_autocast_enabled(device.type()));
  trainer.train();
  DOCTEST_CHECK(model->linear->weight.device().type() == device.type());
  DOCTEST_CHECK(!at::autocast::is_autocast_enabled(device.type()));  // off again outside the trainer
  DOCTEST_REQUIRE(model->autocast_in_forward.size() == 3);  // one micro-batch per step
  for (std::size_t i = 0; i < 3; ++i) {
    DOCTEST_CHECK(model->autocast_in_forward[i]);
    DOCTEST_CHECK((model->output_dtypes[i] == dtype));
  }
  DOCTEST_CHECK(autocast_at_step == std::vector<bool>{false, false, false});
  DOCTEST_CHECK(float32_at_step == std::vector<bool>{true, true, true});
  DOCTEST_CHECK(trainer.state().global_step == 3);
  trainer.evaluate();  // evaluation uses the same autocast
  DOCTEST_CHECK(model->autocast_in_forward.back());
  DOCTEST_CHECK((model->output_dtypes.back() == dtype));
  DOCTEST_CHECK(!at::autocast::is_autocast_enabled(device.type()));
}

DOCTEST_TEST_SUITE("precision") {

DOCTEST_TEST_CASE("BF16 autocasts forward and loss only; weights, gradients and the step stay float32") {
  check_autocast_in_forward_only<tt::BF16>(torch::kCPU, torch::kBFloat16);
}

DOCTEST_TEST_CASE("BF16 trains digits to within 1 percentage point of FP32") {
  auto accuracy = [](auto precision, bool bf16) {
    auto args = digits::default_training_arguments();
    args.bf16 = bf16;
    args.logging_strategy = args.eval_strategy = tt::IntervalStrategy::no;
    args.save_strategy = tt::SaveStrategy::no;
    args.load_best_model_at_end = false;
    tt::set_seed(args.seed);
    auto [train_set, eval_set] = digits::load_digits(digits::default_data_path).split(0.9, args.seed);
    digits::Classifier model(128);
    tt::Trainer<decltype(precision)> trainer(model, args, train_set, eval_set, tt::loss::cross_entropy,
                                             tt::metrics::accuracy);
    trainer.train();
    return trainer.evaluate().at("eval_accuracy");
  };
  const double fp32 = accuracy(tt::FP32{}, false), bf16 = accuracy(tt::BF16{}, true);
  DOCTEST_INFO("FP32 ", fp32, ", BF16 ", bf16);
  DOCTEST_CHECK(std::abs(fp32 - bf16) <= 0.01);
  DOCTEST_CHECK(bf16 >= 0.95);
}

DOCTEST_TEST_CASE("the precision policy sets its flag; flags that contradict it fail before training") {
  Probe model;
  // Trainer<BF16> needs no --bf16: the policy sets it (and the saved arguments show it).
  DOCTEST_CHECK(tt::Trainer<tt::BF16>(model, {}, small_classification()).args().bf16);
  DOCTEST_CHECK(tt::Trainer<tt::FP16>(model, {.use_cpu = true}, small_classification()).args().fp16);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<tt::BF16>(model, {.fp16 = true}, small_classification()),
                               "--fp16 is set, but the Trainer's precision policy is BF16; use Trainer<FP16> or drop --fp16",
                               tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<tt::BF16>(model, {.bf16 = true, .fp16 = true}, small_classification()),
                               "--bf16 and --fp16 are both set; choose one", tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, {.fp16 = true}, small_classification()),
                               "--fp16 is set, but the Trainer's precision policy is FP32; use Trainer<FP16> or drop --fp16",
                               tt::ArgumentError);
}

DOCTEST_TEST_CASE("PrecisionFromArguments runs the policy that --bf16 or --fp16 names, step for step") {
  // Four steps with each flag, beside the static policy the flag names: the same forward
  // dtypes, the same weights bit for bit, the same flags saved, scaler.pt only for FP16.
  const auto root = test_support::fresh_folder("precision_from_arguments");
  const auto run = [&]<class Precision>(Precision, const char* name, bool bf16, bool fp16) {
    torch::manual_seed(0);
    Probe model;
    tt::TrainingArguments args{.output_dir = (root / name).string(), .max_steps = 4, .save_steps = 4, .use_cpu = true,
                               .bf16 = bf16, .fp16 = fp16};
    tt::Trainer<Precision> trainer(model, args, small_classification(), small_classification(),
                                   tt::loss::cross_entropy);
    trainer.train();
    DOCTEST_CHECK(trainer.args().bf16 == bf16);
    DOCTEST_CHECK(trainer.args().fp16 == fp16);
    return std::pair(model->linear->weight.clone(), model->output_dtypes);
  };
  const auto check = [&]<class Static>(Static, bool bf16, bool fp16, c10::ScalarType dtype) {
    DOCTEST_INFO("bf16 ", bf16, ", fp16 ", fp16);
    const auto [weight, dtypes] = run(tt::PrecisionFromArguments{}, "from_arguments", bf16, fp16);
    const auto [static_weight, static_dtypes] = run(Static{}, "static", bf16, fp16);
    DOCTEST_CHECK(torch::equal(weight, static_weight));
    DOCTEST_CHECK(dtypes == static_dtypes);
    DOCTEST_CHECK(dtypes == std::vector<c10::ScalarType>(4, dtype));
    for (const char* name : {"from_arguments", "static"})
      DOCTEST_CHECK(std::filesystem::exists(root / name / "checkpoint-4" / tt::Checkpoint::scaler_file) == fp16);
  };
  check(tt::FP32{}, false, false, torch::kFloat);
  check(tt::BF16{}, true, false, torch::kBFloat16);
  check(tt::FP16{}, false, true, torch::kHalf);
  Probe model;
  DOCTEST_CHECK_THROWS_WITH_AS(
      tt::Trainer<tt::PrecisionFromArguments>(model, {.bf16 = true, .fp16 = true}, small_classification()),
      "--bf16 and --fp16 are both set; choose one", tt::ArgumentError);
}

DOCTEST_TEST_CASE("FP16 autocasts forward and loss to float16 on the CPU too; weights, gradients and the step stay float32") {
  check_autocast_in_forward_only<tt::FP16>(torch::kCPU, torch::kHalf);
}

DOCTEST_TEST_CASE("on CUDA, BF16 and FP16 autocast forward and loss only; weights, gradients and the step stay float32" *
                  doctest::test_suite("cuda")) {
  check_autocast_in_forward_only<tt::BF16>(torch::kCUDA, torch::kBFloat16);
  check_autocast_in_forward_only<tt::FP16>(torch::kCUDA, torch::kHalf);
}

DOCTEST_TEST_CASE("GradScaler: an inf gradient skips the step and halves the scale; the scale grows after the interval") {
  auto parameter = torch::ones({2}, torch::requires_grad());
  torch::optim::SGD optimizer({parameter}, torch::optim::SGDOptions(0.1));
  tt::GradScaler scaler({.init_scale = 8.0, .growth_interval = 2});
  DOCTEST_CHECK(scaler.scale(torch::tensor(1.5f)).item<float>() == 12.0f);

  parameter.mutable_grad() = torch::tensor({8.0f, std::numeric_limits<float>::infinity()});
  DOCTEST_CHECK(!scaler.step(optimizer));
  scaler.update();
  DOCTEST_CHECK(torch::equal(parameter, torch::ones({2})));  // unchanged
  DOCTEST_CHECK(scaler.get_scale() == 4.0);                   // backed off

  for (int good = 1; good <= 2; ++good) {
    parameter.mutable_grad() = torch::tensor({4.0f, 4.0f});  // 1.0 once unscaled by 4
    scaler.unscale(optimizer);
    DOCTEST_CHECK(torch::equal(parameter.grad(), torch::ones({2})));
    DOCTEST_CHECK(scaler.step(optimizer));  // unscales only once
    scaler.update();
  }
  DOCTEST_CHECK(scaler.get_scale() == 8.0);  // grew after 2 good steps
  DOCTEST_CHECK(torch::allclose(parameter, torch::full({2}, 0.8f)));
  tt::GradScalerOptions defaults;
  DOCTEST_CHECK(defaults.init_scale == 65536.0);
  DOCTEST_CHECK(defaults.growth_factor == 2.0);
  DOCTEST_CHECK(defaults.backoff_factor == 0.5);
  DOCTEST_CHECK(defaults.growth_interval == 2000);
}

// Before this check such a file loaded: a scale of 0 made every gradient 0 (then inf once
// unscaled) and the scaler skipped every step, without a word.
DOCTEST_TEST_CASE("a scaler.pt whose scale or growth tracker no run reaches is refused, and the scaler keeps its state") {
  tt::GradScaler scaler({.init_scale = 8.0, .growth_interval = 4});
  const auto saved = [](c10::IValue scale, std::int64_t growth_tracker) {
    auto state = tt::io::python_dict();
    state.insert("scale", scale);
    state.insert("_growth_tracker", growth_tracker);
    return tt::io::torch_load_bytes(tt::io::torch_save_bytes(state), "scaler.pt");
  };
  scaler.load_state_dict(saved(1024.0, 3), "scaler.pt");
  DOCTEST_CHECK(scaler.get_scale() == 1024.0);
  DOCTEST_CHECK(scaler.growth_tracker() == 3);
  for (const double scale : {0.0, -2.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    const auto words =
        fmt::format("cannot restore the loss scale from 'scaler.pt': its 'scale' is {}, which no run reaches", scale);
    DOCTEST_CHECK_THROWS_WITH_AS(scaler.load_state_dict(saved(scale, 3), "scaler.pt"), doctest::Contains(words.c_str()),
                                 tt::FileError);
  }
  DOCTEST_CHECK_THROWS_WITH_AS(scaler.load_state_dict(saved(8.0, -1), "scaler.pt"),
                               doctest::Contains("its '_growth_tracker' is -1, which no run reaches"), tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(scaler.load_state_dict(saved(8.0, std::int64_t{1} << 40), "scaler.pt"),
                               doctest::Contains("its '_growth_tracker' is 1099511627776, which no run reaches"),
                               tt::FileError);
  DOCTEST_CHECK(scaler.get_scale() == 1024.0);
  DOCTEST_CHECK(scaler.growth_tracker() == 3);
}

DOCTEST_TEST_CASE("loss scaling in the trainer: a step with an inf gradient leaves weights and learning rate alone") {
  PoisonedOnce model;
  std::vector<double> scales;
  std::vector<torch::Tensor> weights_after_step;
  tt::Trainer<LossScaledFP32> trainer(
      tt::with_policies(LossScaledFP32{{}, &scales}), model, {.max_steps = 3, .learning_rate = 0.1, .logging_steps = 1, .fp16 = true},
      small_classification(), tt::data::NoDataset{}, tt::loss::cross_entropy, tt::NoMetrics{},
      tt::callbacks(WeightRecorder{model, &weights_after_step}));
  auto initial = model->linear->weight.clone();
  trainer.train();

  DOCTEST_REQUIRE(weights_after_step.size() == 3);
  DOCTEST_CHECK(torch::equal(weights_after_step[0], initial));    // step 1 skipped
  DOCTEST_CHECK(!torch::equal(weights_after_step[1], initial));   // step 2 taken
  DOCTEST_CHECK(scales == std::vector<double>{512.0, 512.0, 512.0});  // halved once
  // Linear schedule over 3 steps: factors 1, 2/3, 1/3. The skipped step did not advance
  // it, so steps 2 and 3 used the factors of scheduler steps 0 and 1.
  const auto& history = trainer.state().log_history;
  DOCTEST_CHECK(history[0].at("learning_rate") == doctest::Approx(0.1));
  DOCTEST_CHECK(history[1].at("learning_rate") == doctest::Approx(0.1));
  DOCTEST_CHECK(history[2].at("learning_rate") == doctest::Approx(0.1 * 2 / 3));
}

}  // DOCTEST_TEST_SUITE

}  // namespace precision_tests

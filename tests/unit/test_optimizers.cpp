// Optimizers by name: each equals the LibTorch optimizer a user would build by hand, and
// resumes from its saved state, bit for bit.
#include "testing.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace optimizers_tests {
namespace fs = std::filesystem;

tt::data::TensorDataset data() {
  torch::manual_seed(8);
  auto inputs = torch::randn({24, 4});
  return {inputs, inputs.argmax(1) % 3};
}

// Three steps of batch 8 in the trainer's data order, with `optimizer` built by hand over
// the groups the Python Trainer makes (weight decayed, bias not).
template <class Options, class Optimizer>
torch::Tensor hand_written(Options options, double weight_decay) {
  torch::manual_seed(1);
  torch::nn::Linear model(4, 3);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector{model->weight}, std::make_unique<Options>(Options(options).weight_decay(weight_decay)));
  groups.emplace_back(std::vector{model->bias}, std::make_unique<Options>(Options(options).weight_decay(0)));
  Optimizer optimizer(std::move(groups), options);
  auto all = data();
  auto order = tt::data::epoch_permutation(24, 42, 0);
  for (int b = 0; b < 3; ++b) {
    auto batch = all.get_batch(order.slice(0, b * 8, (b + 1) * 8));
    optimizer.zero_grad();
    tt::loss::cross_entropy(model->forward(batch.inputs), batch).backward();
    optimizer.step();
  }
  return model->weight.detach().clone();
}

torch::Tensor trained(tt::OptimizerNames optim, std::string optim_args, double weight_decay) {
  torch::manual_seed(1);
  torch::nn::Linear model(4, 3);
  tt::TrainingArguments args{.max_steps = 3, .max_grad_norm = 0, .optim = optim, .optim_args = std::move(optim_args),
                             .learning_rate = 0.05, .weight_decay = weight_decay,
                             .lr_scheduler_type = tt::SchedulerType::constant};
  tt::Trainer<> trainer(model, args, data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
  trainer.train();
  return model->weight.detach().clone();
}

DOCTEST_TEST_SUITE("optimizers") {

DOCTEST_TEST_CASE("--optim sgd, adagrad, rmsprop and adamw_torch equal LibTorch's optimizers with the same settings") {
  using namespace torch::optim;
  DOCTEST_CHECK(torch::equal(trained(tt::OptimizerNames::sgd, "momentum=0.9,nesterov=true", 0.1),
                             hand_written<SGDOptions, SGD>(SGDOptions(0.05).momentum(0.9).nesterov(true), 0.1)));
  DOCTEST_CHECK(torch::equal(trained(tt::OptimizerNames::adagrad, "lr_decay=0.01", 0.1),
                             hand_written<AdagradOptions, Adagrad>(AdagradOptions(0.05).lr_decay(0.01).eps(1e-10), 0.1)));
  DOCTEST_CHECK(torch::equal(trained(tt::OptimizerNames::rmsprop, "alpha=0.9,centered=true", 0.1),
                             hand_written<RMSpropOptions, RMSprop>(RMSpropOptions(0.05).alpha(0.9).centered(true), 0.1)));
  DOCTEST_CHECK(torch::equal(trained(tt::OptimizerNames::adamw_torch, "", 0.1),
                             hand_written<AdamWOptions, AdamW>(AdamWOptions(0.05), 0.1)));
  // adamw_torch_fused is MultiTensorAdamW: the same arithmetic in another order of operations.
  DOCTEST_CHECK(torch::allclose(trained(tt::OptimizerNames::adamw_torch_fused, "", 0.1),
                                hand_written<AdamWOptions, AdamW>(AdamWOptions(0.05), 0.1), 1e-6, 1e-7));
  // The settings matter: plain SGD differs from SGD with momentum.
  DOCTEST_CHECK(!torch::equal(trained(tt::OptimizerNames::sgd, "", 0.1),
                              hand_written<SGDOptions, SGD>(SGDOptions(0.05).momentum(0.9).nesterov(true), 0.1)));
}

DOCTEST_TEST_CASE("optim_args the optimizer does not take, or cannot read, fail before training") {
  torch::nn::Linear model(4, 3);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, {.optim = tt::OptimizerNames::sgd, .optim_args = "momentun=0.9"}, data()),
                               doctest::Contains("--optim_args: sgd takes no 'momentun'; see the names"), tt::ArgumentError);
  DOCTEST_CHECK_THROWS_WITH_AS(tt::Trainer<>(model, {.optim = tt::OptimizerNames::sgd, .optim_args = "momentum=high"}, data()),
                               "--optim_args: momentum expects float, got 'high'", tt::ArgumentError);
  std::array argv{"program", "--optim", "adafactorr"};
  DOCTEST_CHECK_THROWS_WITH_AS(tt::parse_args<tt::TrainingArguments>(3, argv.data()),
                               "--optim expects {adamw_torch|adamw_torch_fused|sgd|adagrad|rmsprop|adafactor|galore_adamw|galore_adafactor|"
                               "galore_adamw_layerwise|galore_adafactor_layerwise|apollo_adamw|apollo_adamw_layerwise|lomo|adalomo|"
                               "schedule_free_adamw|schedule_free_sgd|lion_32bit|ademamix|adamw_8bit}, got 'adafactorr'",
                               tt::ArgumentError);
}

}  // DOCTEST_TEST_SUITE

DOCTEST_TEST_SUITE("optimizers") {

DOCTEST_TEST_CASE("bring your own optimizer and scheduler, or a factory for the optimizer") {
  auto train_with = [](auto&& customize) {
    torch::manual_seed(1);
    torch::nn::Linear model(4, 3);
    tt::TrainingArguments args{.max_steps = 3, .max_grad_norm = 0, .learning_rate = 0.05, .logging_steps = 1};
    tt::Trainer<> trainer(model, args, data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
    customize(trainer, model);
    trainer.train();
    std::vector<double> rates;
    for (const auto& log : trainer.state().log_history)
      if (log.contains("learning_rate")) rates.push_back(log.at("learning_rate"));
    return std::pair{model->weight.detach().clone(), rates};
  };
  // Optimizer and scheduler given: SGD with momentum under a constant rate of 0.2.
  auto [given, given_rates] = train_with([](auto& trainer, torch::nn::Linear& model) {
    auto optimizer = std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.2).momentum(0.5));
    auto scheduler = tt::get_scheduler("constant", *optimizer, 0, 3);
    trainer.set_optimizers(std::move(optimizer), std::move(scheduler));
  });
  DOCTEST_CHECK(given_rates == std::vector<double>{0.2, 0.2, 0.2});
  // The same optimizer from a factory: the arguments' linear schedule applies to its rate.
  auto [made, made_rates] = train_with([](auto& trainer, torch::nn::Linear&) {
    trainer.set_optimizer_factory([](torch::nn::Module& module, const tt::TrainingArguments&) {
      return std::make_unique<torch::optim::SGD>(module.parameters(), torch::optim::SGDOptions(0.2).momentum(0.5));
    });
  });
  DOCTEST_CHECK(made_rates == std::vector<double>{0.2, 0.2 * 2 / 3, 0.2 / 3});
  // Both differ from the default AdamW run, and from each other (different rates).
  auto [default_weights, default_rates] = train_with([](auto&, torch::nn::Linear&) {});
  DOCTEST_CHECK(!torch::equal(given, default_weights));
  DOCTEST_CHECK(!torch::equal(given, made));
  DOCTEST_CHECK(default_rates == std::vector<double>{0.05, 0.05 * 2 / 3, 0.05 / 3});
}

}  // DOCTEST_TEST_SUITE

DOCTEST_TEST_SUITE("optimizers") {

DOCTEST_TEST_CASE("Adafactor follows the Python implementation's numbers, step by step") {
  const char* path = std::getenv("TORCHTRAIN_ADAFACTOR_REFERENCE");
  DOCTEST_REQUIRE_MESSAGE(path != nullptr, "run through CTest, which writes the reference with Python first");
  struct Case {
    std::vector<std::int64_t> shape;
    tt::optim::AdafactorOptions options;
  };
  const std::map<std::string, Case> cases{
      {"matrix", {{2, 3}, tt::optim::AdafactorOptions(0.01).scale_parameter(false).relative_step(false)}},
      {"vector", {{4}, tt::optim::AdafactorOptions(0.01).scale_parameter(false).relative_step(false)}},
      {"matrix_beta1_decay",
       {{3, 2}, tt::optim::AdafactorOptions(0.02).scale_parameter(false).relative_step(false).beta1(0.9).weight_decay(0.1)}},
      {"matrix_relative_scaled", {{2, 2}, tt::optim::AdafactorOptions(0.0)}}};
  std::map<std::string, std::pair<torch::Tensor, std::unique_ptr<tt::optim::Adafactor>>> runs;
  std::ifstream file(path);
  int rows_checked = 0;
  for (std::string line; std::getline(file, line);) {
    std::stringstream fields(line);
    std::string name, step_text, values_text;
    std::getline(fields, name, ';');
    std::getline(fields, step_text, ';');
    std::getline(fields, values_text);
    const auto& setting = cases.at(name);
    auto& [parameter, optimizer] = runs[name];
    if (!optimizer) {
      const auto n = c10::multiply_integers(setting.shape);
      parameter = torch::cos(0.3 * torch::arange(n, torch::kDouble)).to(torch::kFloat).view(setting.shape).requires_grad_();
      optimizer = std::make_unique<tt::optim::Adafactor>(std::vector{parameter}, setting.options);
    }
    const double step = std::stod(step_text);
    parameter.mutable_grad() =
        torch::sin(0.7 * torch::arange(parameter.numel(), torch::kDouble) + step).to(torch::kFloat).view(setting.shape);
    optimizer->step();
    std::vector<double> expected;
    std::stringstream values(values_text);
    for (std::string value; std::getline(values, value, ',');) expected.push_back(std::stod(value));
    auto found = parameter.detach().flatten();
    DOCTEST_REQUIRE(found.numel() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t k = 0; k < expected.size(); ++k) {
      DOCTEST_INFO(name, " step ", step, " value ", k);
      DOCTEST_CHECK(found[static_cast<std::int64_t>(k)].item<double>() == doctest::Approx(expected[k]).epsilon(1e-5));
    }
    ++rows_checked;
  }
  DOCTEST_CHECK(rows_checked == 12);
}

DOCTEST_TEST_CASE("--optim adafactor is Adafactor with the Python Trainer's settings") {
  DOCTEST_CHECK(torch::equal(
      trained(tt::OptimizerNames::adafactor, "beta1=0.5", 0.1),
      hand_written<tt::optim::AdafactorOptions, tt::optim::Adafactor>(
          tt::optim::AdafactorOptions(0.05).scale_parameter(false).relative_step(false).beta1(0.5), 0.1)));
}

}  // DOCTEST_TEST_SUITE

DOCTEST_TEST_SUITE("optimizers") {

DOCTEST_TEST_CASE("MultiTensorAdamW computes what LibTorch's AdamW computes") {
  auto run = [](auto make_optimizer) {
    torch::manual_seed(5);
    torch::nn::Sequential model(torch::nn::Linear(6, 8), torch::nn::Tanh(), torch::nn::Linear(8, 3));
    auto options = torch::optim::AdamWOptions(0.01).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.05);
    auto optimizer = make_optimizer(model->parameters(), options);
    for (int step = 0; step < 5; ++step) {
      optimizer->zero_grad();
      model->forward(torch::randn({4, 6})).pow(2).mean().backward();
      optimizer->step();
    }
    return model->parameters();
  };
  auto ours = run([](std::vector<torch::Tensor> p, torch::optim::AdamWOptions o) {
    return std::make_unique<tt::optim::MultiTensorAdamW>(std::vector{torch::optim::OptimizerParamGroup(p)}, o);
  });
  auto theirs = run([](std::vector<torch::Tensor> p, torch::optim::AdamWOptions o) {
    return std::make_unique<torch::optim::AdamW>(p, o);
  });
  for (std::size_t i = 0; i < ours.size(); ++i) DOCTEST_CHECK(torch::allclose(ours[i], theirs[i], 1e-6, 1e-7));
}

// The parameters after 5 steps of MultiTensorAdamW on `device`, fused or multi-tensor, over
// two groups as the Python Trainer makes them: weights with `weight_decay`, biases with
// `bias_decay` (the fused step takes groups of equal options in one call).
std::vector<torch::Tensor> adamw_parameters_after_steps(torch::Device device, bool fused, double weight_decay = 0.05,
                                                        double bias_decay = 0.0) {
  torch::manual_seed(5);
  torch::nn::Sequential model(torch::nn::Linear(6, 8), torch::nn::Tanh(), torch::nn::Linear(8, 3));
  model->to(device);
  auto options = torch::optim::AdamWOptions(0.01).betas({0.8, 0.99}).eps(1e-6);
  std::vector<torch::Tensor> weights, biases;
  for (const auto& item : model->named_parameters())
    (item.key().ends_with("bias") ? biases : weights).push_back(item.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(weights, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(options).weight_decay(weight_decay)));
  groups.emplace_back(biases, std::make_unique<torch::optim::AdamWOptions>(
                                  torch::optim::AdamWOptions(options).weight_decay(bias_decay)));
  tt::optim::MultiTensorAdamW optimizer(std::move(groups), options, fused);
  for (int step = 0; step < 5; ++step) {
    optimizer.zero_grad();
    model->forward(torch::randn({4, 6}).to(device)).pow(2).mean().backward();
    optimizer.step();
  }
  std::vector<torch::Tensor> parameters;
  for (const auto& parameter : model->parameters()) parameters.push_back(parameter.cpu());
  return parameters;
}

DOCTEST_TEST_CASE("MultiTensorAdamW's fused kernel computes what its multi-tensor step computes, on the CPU") {
  torch::manual_seed(5);
  const auto initial = torch::nn::Linear(6, 8)->weight.clone();  // the first layer before training
  // Groups of different options (two kernel calls), and of equal options (one call).
  for (double bias_decay : {0.0, 0.05}) {
    DOCTEST_INFO("bias weight decay ", bias_decay);
    auto fused = adamw_parameters_after_steps(torch::kCPU, true, 0.05, bias_decay);
    auto foreach = adamw_parameters_after_steps(torch::kCPU, false, 0.05, bias_decay);
    DOCTEST_CHECK(!torch::allclose(fused[0], initial));  // the fused kernel stepped
    for (std::size_t i = 0; i < fused.size(); ++i) DOCTEST_CHECK(torch::allclose(fused[i], foreach[i], 1e-5, 1e-6));
  }
  // The groups' weight decays differ in effect: the biases moved otherwise.
  DOCTEST_CHECK(!torch::allclose(adamw_parameters_after_steps(torch::kCPU, true, 0.05, 0.0)[1],
                                 adamw_parameters_after_steps(torch::kCPU, true, 0.05, 0.5)[1]));
}

DOCTEST_TEST_CASE("on CUDA, MultiTensorAdamW's fused kernel computes what its multi-tensor step computes" *
                  doctest::test_suite("cuda")) {
  auto fused = adamw_parameters_after_steps(torch::kCUDA, true), foreach = adamw_parameters_after_steps(torch::kCUDA, false);
  auto on_cpu = adamw_parameters_after_steps(torch::kCPU, false);
  for (std::size_t i = 0; i < fused.size(); ++i) {
    DOCTEST_CHECK(torch::allclose(fused[i], foreach[i], 1e-5, 1e-6));
    DOCTEST_CHECK(torch::allclose(fused[i], on_cpu[i], 1e-4, 1e-5));  // the same run, on the other device
  }
}

}  // DOCTEST_TEST_SUITE

namespace {

// Weights (decayed) and biases (not): both of the Python Trainer's parameter groups.
torch::nn::Sequential small_model() {
  return torch::nn::Sequential(torch::nn::Linear(4, 5), torch::nn::Tanh(), torch::nn::Linear(5, 3));
}

// Steps first, first + 1, ... on data fixed by the step number, whichever run takes them.
void take_steps(torch::nn::Sequential& model, torch::optim::Optimizer& optimizer, int first, int count,
                torch::Dtype dtype = torch::kFloat) {
  for (int step = first; step < first + count; ++step) {
    torch::manual_seed(200 + static_cast<std::uint64_t>(step));
    auto inputs = torch::randn({8, 4}).to(dtype);
    if (auto* modes = dynamic_cast<tt::optim::TrainEvalModes*>(&optimizer)) modes->train();  // as the Trainer
    optimizer.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(inputs), inputs.argmax(1) % 3).backward();
    optimizer.step();
  }
}

std::vector<double> rates(const torch::optim::Optimizer& optimizer) {
  std::vector<double> found;
  for (const auto& group : optimizer.param_groups()) found.push_back(group.options().get_lr());
  return found;
}

// optimizer.pt as a checkpoint holds it: Python's state dict, in torch.save's format.
std::string saved(const torch::optim::Optimizer& optimizer) { return tt::optim::optimizer_file_bytes(optimizer, {}); }

void load(torch::optim::Optimizer& optimizer, const std::string& bytes) {
  tt::optim::load_optimizer_file(optimizer, bytes, "optimizer.pt");
}

using MakeOptimizer = std::function<std::unique_ptr<torch::optim::Optimizer>(torch::nn::Module&)>;

struct Resumed {
  std::vector<torch::Tensor> uninterrupted, resumed, not_loaded;  // parameters at the end
  std::vector<double> saved_rates, loaded_rates;
};

// Three steps with an optimizer from `make`, its rates changed per group as a scheduler
// would, then saved; three more steps with it (uninterrupted), and with one from `make_again`
// over a copy of the saved model, with (resumed) and without (not_loaded) the saved state.
Resumed resume(const MakeOptimizer& make, const MakeOptimizer& make_again) {
  torch::manual_seed(1);
  auto model = small_model();
  auto optimizer = make(*model);
  take_steps(model, *optimizer, 0, 3);
  auto& groups = optimizer->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(groups[g].options().get_lr() * (0.3 + g));
  Resumed result{.saved_rates = rates(*optimizer)};
  const auto optimizer_bytes = saved(*optimizer);
  std::stringstream model_bytes;
  torch::save(model, model_bytes);
  take_steps(model, *optimizer, 3, 3);
  result.uninterrupted = model->parameters();

  for (bool load_state : {true, false}) {
    torch::manual_seed(2);  // other initial weights, replaced by the saved ones
    auto copy = small_model();
    std::istringstream model_stream(model_bytes.str());
    torch::load(copy, model_stream);
    auto restored = make_again(*copy);
    if (load_state) {
      load(*restored, optimizer_bytes);
      result.loaded_rates = rates(*restored);
    }
    take_steps(copy, *restored, 3, 3);
    (load_state ? result.resumed : result.not_loaded) = copy->parameters();
  }
  return result;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) { return torch::equal(x, y); });
}

// Every optimizer a test of resuming should cover: each --optim name, with optim_args that
// give it all the state it can keep (GaLore and APOLLO project both Linear layers, at a
// rank that fits them, anew every 2 steps), and MultiTensorAdamW.
std::vector<std::pair<std::string, MakeOptimizer>> every_optimizer() {
  const std::string low_rank = "rank=2,update_proj_gap=2";
  const std::map<std::string_view, std::string> full_state{
      {"sgd", "momentum=0.9"}, {"adagrad", "lr_decay=0.01"}, {"rmsprop", "momentum=0.5,centered=true"},
      {"adafactor", "beta1=0.9"}, {"galore_adamw", low_rank}, {"galore_adafactor", low_rank},
      {"galore_adamw_layerwise", low_rank}, {"galore_adafactor_layerwise", low_rank}, {"apollo_adamw", low_rank},
      {"apollo_adamw_layerwise", low_rank}};
  std::vector<std::pair<std::string, MakeOptimizer>> all;
  const auto names = enum_names(tt::OptimizerNames{});
  for (std::size_t k = 0; k < names.size(); ++k) {
    auto found = full_state.find(names[k]);
    tt::TrainingArguments args{.optim = static_cast<tt::OptimizerNames>(k),
                               .optim_args = found == full_state.end() ? "" : found->second,
                               .optim_target_modules = std::vector<std::string>{"0", "2"},
                               .learning_rate = 0.05, .weight_decay = 0.1};
    all.emplace_back(names[k], [args](torch::nn::Module& model) { return tt::optim::make_optimizer(model, args); });
  }
  all.emplace_back("MultiTensorAdamW", [](torch::nn::Module& model) {
    auto [decay, no_decay] = tt::optim::weight_decay_groups(model);
    auto options = torch::optim::AdamWOptions(0.05).weight_decay(0.1);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options).weight_decay(0)));
    return std::make_unique<tt::optim::MultiTensorAdamW>(std::move(groups), options);
  });
  return all;
}

// The optimizer `--optim name --optim_args optim_args` makes for `model`, whose Linear
// layers "0" and "2" are the low-rank targets.
std::unique_ptr<torch::optim::Optimizer> optimizer_named(torch::nn::Module& model, tt::OptimizerNames name,
                                                       const std::string& optim_args) {
  tt::TrainingArguments args{.optim = name, .optim_args = optim_args,
                             .optim_target_modules = std::vector<std::string>{"0", "2"},
                             .learning_rate = 0.05, .weight_decay = 0.1};
  return tt::optim::make_optimizer(model, args);
}

// An own optimizer's optimizer.pt (PerParameterOptimizerBase::save's archive), opened up so
// that a test can change it: its states' tensors by "group_G/param_P", and the rest as it was.
struct OwnOptimizerFile {
  std::map<std::string, c10::IValue> top;                                    // "optimizer": its class
  std::map<std::string, std::map<std::string, c10::IValue>> group_numbers;  // lr, parameters, value_*
  std::map<std::string, c10::IValue> steps;
  std::map<std::string, std::map<std::string, torch::Tensor>> states;

  static OwnOptimizerFile read(const std::string& bytes) {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size());
    OwnOptimizerFile file;
    for (const auto& group_key : archive.keys()) {
      if (!group_key.starts_with("group_")) {
        archive.read(group_key, file.top[group_key]);
        continue;
      }
      torch::serialize::InputArchive group;
      archive.read(group_key, group);
      for (const auto& key : group.keys()) {
        if (!key.starts_with("param_")) {
          group.read(key, file.group_numbers[group_key][key]);
          continue;
        }
        torch::serialize::InputArchive entry;
        group.read(key, entry);
        const auto path = group_key + "/" + key;
        entry.read("step", file.steps[path]);
        for (const auto& name : entry.keys())
          if (name.starts_with("tensor_")) entry.read(name, file.states[path][name.substr(7)], /*is_buffer=*/true);
      }
    }
    return file;
  }

  std::string bytes() const {
    torch::serialize::OutputArchive archive;
    for (const auto& [key, value] : top) archive.write(key, value);
    for (const auto& [group_key, numbers] : group_numbers) {
      torch::serialize::OutputArchive group(archive.compilation_unit());
      for (const auto& [key, value] : numbers) group.write(key, value);
      for (const auto& [path, tensors] : states) {
        if (!path.starts_with(group_key + "/")) continue;
        torch::serialize::OutputArchive entry(archive.compilation_unit());
        entry.write("step", steps.at(path));
        for (const auto& [name, tensor] : tensors) entry.write("tensor_" + name, tensor, /*is_buffer=*/true);
        group.write(path.substr(group_key.size() + 1), entry);
      }
      archive.write(group_key, group);
    }
    std::ostringstream out;
    archive.save_to(out);
    return out.str();
  }

  // The state with the most tensors (an 8-bit one, a projected one...).
  std::string richest_state() const {
    return std::max_element(states.begin(), states.end(),
                            [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); })
        ->first;
  }
};

// Whether two optimizers hold the same states, tensor for tensor.
bool same_states(const torch::optim::Optimizer& a, const torch::optim::Optimizer& b) {
  const auto left = OwnOptimizerFile::read(saved(a)).states, right = OwnOptimizerFile::read(saved(b)).states;
  return left.size() == right.size() &&
         std::equal(left.begin(), left.end(), right.begin(), [](const auto& x, const auto& y) {
           return x.first == y.first && x.second.size() == y.second.size() &&
                  std::equal(x.second.begin(), x.second.end(), y.second.begin(), [](const auto& t, const auto& u) {
                    return t.first == u.first && torch::equal(t.second, u.second);
                  });
         });
}

}  // namespace

DOCTEST_TEST_SUITE("optimizers") {

DOCTEST_TEST_CASE("every optimizer, saved and loaded, continues bit for bit as if never stopped") {
  for (const auto& [name, make] : every_optimizer()) {
    DOCTEST_INFO(name);
    auto run = resume(make, make);
    DOCTEST_CHECK(run.loaded_rates == run.saved_rates);
    DOCTEST_CHECK(all_equal(run.resumed, run.uninterrupted));
    // The saved state matters: without it the same steps end elsewhere (LOMO keeps none).
    if (name != "lomo") DOCTEST_CHECK(!all_equal(run.not_loaded, run.uninterrupted));
  }
}

DOCTEST_TEST_CASE("MultiTensorAdamW and LibTorch's AdamW resume from each other's files") {
  auto everything = every_optimizer();
  auto find = [&](std::string_view name) {
    return std::find_if(everything.begin(), everything.end(), [&](auto& entry) { return entry.first == name; })->second;
  };
  for (auto [from, to] : {std::pair{"adamw_torch", "MultiTensorAdamW"}, std::pair{"MultiTensorAdamW", "adamw_torch"}}) {
    DOCTEST_INFO(from, " to ", to);
    auto run = resume(find(from), find(to));
    DOCTEST_CHECK(run.loaded_rates == run.saved_rates);
    for (std::size_t i = 0; i < run.resumed.size(); ++i)
      DOCTEST_CHECK(torch::allclose(run.resumed[i], run.uninterrupted[i], 1e-6, 1e-7));
    DOCTEST_CHECK(!torch::allclose(run.not_loaded.front(), run.uninterrupted.front(), 1e-6, 1e-7));
  }
}

DOCTEST_TEST_CASE("a truncated or unrelated file is an error when an optimizer loads it, not a crash") {
  torch::serialize::OutputArchive unrelated;
  unrelated.write("step", c10::IValue(std::int64_t{3}));
  std::ostringstream unrelated_bytes;
  unrelated.save_to(unrelated_bytes);
  for (const auto& [name, make] : every_optimizer()) {
    DOCTEST_INFO(name);
    auto model = small_model();
    auto optimizer = make(*model);
    take_steps(model, *optimizer, 0, 1);
    const auto bytes = saved(*optimizer);
    // Cut into the records (a cut into the zip's last 22 bytes alone may still read back
    // whole, from its zip64 directory; a checkpoint's checksum catches that too).
    for (auto kept : {bytes.size() / 4, bytes.size() / 2})
      DOCTEST_CHECK_THROWS_WITH_AS(load(*make(*model), bytes.substr(0, kept)), doctest::Contains("optimizer.pt"),
                                   tt::FileError);
    DOCTEST_CHECK_THROWS_WITH_AS(load(*make(*model), unrelated_bytes.str()), doctest::Contains("optimizer.pt"),
                                 tt::FileError);
    // A state dict of another model: as many groups, other parameter counts.
    auto other = torch::nn::Sequential(torch::nn::Linear(4, 5), torch::nn::Linear(5, 3), torch::nn::Linear(3, 3));
    auto other_optimizer = make(*other);
    take_steps(other, *other_optimizer, 0, 1);
    DOCTEST_CHECK_THROWS_WITH_AS(load(*optimizer, saved(*other_optimizer)), doctest::Contains("saved for another model"),
                                 tt::FileError);
  }
  // The state of another kind of optimizer names both (it was LibTorch's INTERNAL ASSERT).
  const auto all = every_optimizer();
  const auto make_of = [&](std::string_view name) {
    return std::find_if(all.begin(), all.end(), [&](const auto& entry) { return entry.first == name; })->second;
  };
  auto model = small_model();
  auto sgd = make_of("sgd")(*model);
  take_steps(model, *sgd, 0, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(load(*make_of("adamw_torch")(*model), saved(*sgd)),
                               doctest::Contains("it holds the state of SGD, and this run's optimizer is AdamW: resume "
                                                 "with the --optim it was saved with"),
                               tt::FileError);
  auto adafactor = make_of("adafactor")(*model);
  take_steps(model, *adafactor, 0, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(load(*make_of("rmsprop")(*model), saved(*adafactor)),
                               doctest::Contains("it holds the state of Adafactor, and this run's optimizer is RMSprop"),
                               tt::FileError);
  // A state entry whose name numbers no parameter (it was std::stoul's std::invalid_argument).
  auto galore = make_of("galore_adamw")(*model);
  OwnOptimizerFile misnamed;
  misnamed.top["optimizer"] = c10::IValue(c10::demangle(typeid(*galore).name()));
  for (std::size_t g = 0; g < galore->param_groups().size(); ++g) {
    const auto group = "group_" + std::to_string(g);
    misnamed.group_numbers[group] = {
        {"lr", c10::IValue(0.1)},
        {"parameters", c10::IValue(static_cast<std::int64_t>(galore->param_groups()[g].params().size()))}};
    const auto path = group + (g == 0 ? "/param_first" : "/param_0");
    misnamed.steps[path] = c10::IValue(std::int64_t{1});
    misnamed.states[path];  // no tensors
  }
  DOCTEST_CHECK_THROWS_WITH_AS(load(*galore, misnamed.bytes()),
                               doctest::Contains("has an entry 'param_first' that numbers no parameter"), tt::FileError);
}

DOCTEST_TEST_CASE("a loaded state of our own optimizers is checked tensor by tensor, and a wrong one leaves the "
                  "optimizer as it was") {
  // A model with a weight of 4096 values (AdamW8bit quantizes it) and a tall and a square
  // matrix (the low-rank optimizers project them on either side, at a rank one side caps).
  const auto wide_model = [] {
    return torch::nn::Sequential(torch::nn::Linear(4, 64), torch::nn::Tanh(), torch::nn::Linear(64, 64));
  };
  const std::string projected = "rank=2,update_proj_gap=2";
  const std::vector<std::pair<tt::OptimizerNames, std::string>> cases{
      {tt::OptimizerNames::adamw_8bit, ""},
      {tt::OptimizerNames::lion_32bit, ""},
      {tt::OptimizerNames::ademamix, ""},
      {tt::OptimizerNames::adalomo, ""},
      {tt::OptimizerNames::schedule_free_adamw, ""},
      {tt::OptimizerNames::schedule_free_sgd, ""},
      {tt::OptimizerNames::galore_adamw, projected},
      {tt::OptimizerNames::galore_adamw, "rank=8,update_proj_gap=2,proj_type=full"},
      {tt::OptimizerNames::galore_adafactor, projected + ",proj_type=reverse_std"},
      {tt::OptimizerNames::apollo_adamw, projected},
      {tt::OptimizerNames::apollo_adamw, "rank=8,update_proj_gap=2,proj=svd,proj_type=left,scale_type=tensor"},
  };
  for (const auto& [name, optim_args] : cases) {
    DOCTEST_INFO(enum_names(tt::OptimizerNames{})[static_cast<std::size_t>(name)], " ", optim_args);
    for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
      DOCTEST_INFO(dtype);
      torch::manual_seed(1);
      auto model = wide_model();
      model->to(dtype);
      auto optimizer = optimizer_named(*model, name, optim_args);
      DOCTEST_REQUIRE(dynamic_cast<tt::optim::PerParameterOptimizerBase*>(optimizer.get()) != nullptr);
      take_steps(model, *optimizer, 0, 3, dtype);
      const auto bytes = saved(*optimizer);
      // What it saved, it loads.
      auto again = optimizer_named(*model, name, optim_args);
      DOCTEST_CHECK_NOTHROW(load(*again, bytes));
      DOCTEST_CHECK(same_states(*again, *optimizer));
      if (dtype != torch::kFloat) continue;

      // Each tensor of the richest state missing, of another shape, of another type; and a
      // tensor the optimizer does not keep. Each refused, naming it, with nothing changed.
      const auto file = OwnOptimizerFile::read(bytes);
      const auto path = file.richest_state();
      DOCTEST_INFO(path);
      const auto group = path.substr(6, path.find('/') - 6), parameter = path.substr(path.rfind('_') + 1);
      const auto refused = [&](const std::function<void(std::map<std::string, torch::Tensor>&)>& change,
                               const std::string& what) {
        DOCTEST_INFO(what);
        auto changed = file;
        change(changed.states.at(path));
        const auto message = "its state of parameter " + parameter + " in group " + group + " " + what;
        DOCTEST_CHECK_THROWS_WITH_AS(load(*again, changed.bytes()), doctest::Contains(message.c_str()),
                                     tt::FileError);
        DOCTEST_CHECK(same_states(*again, *optimizer));
      };
      for (const auto& entry : file.states.at(path)) {
        const auto& tensor_name = entry.first;  // a structured binding: clang 14 cannot capture it
        const auto& tensor = entry.second;
        // APOLLO's first seed is missing for a parameter that did not require gradients when
        // the optimizer was made; it steps without it.
        if (tensor_name != "seed")
          refused([&](auto& tensors) { tensors.erase(tensor_name); }, "has no tensor '" + tensor_name + "'");
        refused([&](auto& tensors) { tensors[tensor_name] = torch::zeros({tensor.numel() + 1}, tensor.options()); },
                "has '" + tensor_name + "' [" + std::to_string(tensor.numel() + 1) + "] ");
        std::string shape;
        for (const auto size : tensor.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(size);
        refused([&](auto& tensors) { tensors[tensor_name] = tensor.to(torch::kDouble); },
                "has '" + tensor_name + "' [" + shape + "] Double, where this run's optimizer and settings keep [" +
                    shape + "] " + c10::toString(tensor.scalar_type()));
      }
      refused([](auto& tensors) { tensors["stray"] = torch::zeros({2}); },
              "has a tensor 'stray' [2] Float, which this run's optimizer does not keep");
    }
  }

  auto model = small_model();
  // LOMO keeps no tensors: a state with one is refused.
  auto lomo = optimizer_named(*model, tt::OptimizerNames::lomo, "");
  OwnOptimizerFile lomo_file;
  lomo_file.top["optimizer"] = c10::IValue(c10::demangle(typeid(*lomo).name()));
  lomo_file.group_numbers["group_0"] = {{"lr", c10::IValue(0.05)}, {"parameters", c10::IValue(std::int64_t{4})}};
  lomo_file.steps["group_0/param_1"] = c10::IValue(std::int64_t{1});
  lomo_file.states["group_0/param_1"]["momentum"] = torch::zeros({5});
  DOCTEST_CHECK_THROWS_WITH_AS(load(*lomo, lomo_file.bytes()),
                               doctest::Contains("its state of parameter 1 in group 0 has a tensor 'momentum'"),
                               tt::FileError);
  // A GaLore run resumed with another rank is named at load, not at its next step.
  auto galore_model = small_model();  // LOMO's hooks would update `model` inside backward
  auto galore = optimizer_named(*galore_model, tt::OptimizerNames::galore_adamw, "rank=2,update_proj_gap=2");
  take_steps(galore_model, *galore, 0, 1);
  DOCTEST_CHECK_THROWS_WITH_AS(
      load(*optimizer_named(*galore_model, tt::OptimizerNames::galore_adamw, "rank=1,update_proj_gap=2"),
           saved(*galore)),
      doctest::Contains("its state of parameter 0 in group 1 has 'ortho_matrix' [2, 4] Float, where this run's "
                        "optimizer and settings keep [1, 4] Float"),
      tt::FileError);
}

// `bytes` (Python's state dict in an optimizer.pt) with its first parameter's state (the
// first Linear's 5 x 4 weight) changed.
std::string first_state_changed(const std::string& bytes, const std::function<void(c10::impl::GenericDict)>& change) {
  const auto dict = tt::io::torch_load_bytes(bytes, "optimizer.pt");
  change(dict.toGenericDict().at("state").toGenericDict().at(c10::IValue(std::int64_t{0})).toGenericDict());
  return tt::io::torch_save_bytes(dict);
}

DOCTEST_TEST_CASE("Adafactor's moments in an optimizer.pt are checked against each parameter's shape") {
  auto model = small_model();
  auto adafactor = optimizer_named(*model, tt::OptimizerNames::adafactor, "beta1=0.9");
  take_steps(model, *adafactor, 0, 1);
  const auto bytes = saved(*adafactor);
  const auto changed = [&](const std::function<void(c10::impl::GenericDict)>& change) {
    return first_state_changed(bytes, change);
  };
  auto fresh = optimizer_named(*model, tt::OptimizerNames::adafactor, "beta1=0.9");
  DOCTEST_CHECK_NOTHROW(load(*fresh, changed([](auto) {})));
  const auto without_rows = changed([](auto state) { DOCTEST_REQUIRE(state.erase("exp_avg_sq_row") == 1); });
  DOCTEST_CHECK_THROWS_WITH_AS(
      load(*fresh, without_rows),
      doctest::Contains("its state of a parameter of shape [5, 4] has no 'exp_avg_sq_row', which Adafactor keeps for a matrix"),
      tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      load(*fresh, changed([](auto state) { state.insert_or_assign("exp_avg_sq_col", torch::zeros({5})); })),
      doctest::Contains(
          "its 'exp_avg_sq_col' has shape [5] for a parameter of shape [5, 4], where Adafactor keeps [4]"),
      tt::FileError);
  DOCTEST_CHECK_THROWS_WITH_AS(
      load(*fresh, changed([](auto state) { state.insert_or_assign("exp_avg", torch::zeros({4, 5})); })),
      doctest::Contains("its 'exp_avg' has shape [4, 5] for a parameter of shape [5, 4], where Adafactor keeps [5, 4]"),
      tt::FileError);
}

DOCTEST_TEST_CASE("a state in an optimizer.pt without the tensor its group's options need is refused, and the optimizer "
                  "keeps its state") {
  // Before this check, each file loaded and the next step failed inside LibTorch on an
  // undefined tensor (Python's optimizers raise a KeyError there).
  const auto refuses = [](torch::nn::Sequential& model, torch::optim::Optimizer& optimizer, const char* key,
                          const char* words) {
    DOCTEST_INFO(key);
    take_steps(model, optimizer, 0, 1);
    const auto bytes = saved(optimizer);
    const auto without = first_state_changed(bytes, [&](auto state) { DOCTEST_REQUIRE(state.erase(key) == 1); });
    DOCTEST_CHECK_THROWS_WITH_AS(load(optimizer, without), doctest::Contains(words), tt::FileError);
    DOCTEST_CHECK(saved(optimizer) == bytes);
  };
  auto model = small_model();
  auto adafactor = optimizer_named(*model, tt::OptimizerNames::adafactor, "beta1=0.9");
  refuses(model, *adafactor, "exp_avg",
          "its state of a parameter of shape [5, 4] has no 'exp_avg', which Adafactor keeps with beta1");
  torch::optim::AdamW amsgrad(model->parameters(), torch::optim::AdamWOptions(0.01).amsgrad(true));
  refuses(model, amsgrad, "max_exp_avg_sq", "has no 'max_exp_avg_sq', which AdamW keeps with amsgrad");
  torch::optim::RMSprop rmsprop(model->parameters(), torch::optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  refuses(model, rmsprop, "momentum_buffer", "has no 'momentum_buffer', which RMSprop keeps with momentum");
  refuses(model, rmsprop, "grad_avg", "has no 'grad_avg', which RMSprop keeps with centered");
}

// Python's SGD saves a momentum buffer of None for a parameter whose buffer it has not made
// (momentum 0), and makes one from the next gradient where momentum is set. LibTorch's SGD
// does the same for a parameter without a state, which is what such a state loads as.
DOCTEST_TEST_CASE("an SGD state without a momentum buffer starts the buffer from the next gradient, as Python's SGD does") {
  torch::manual_seed(3);
  auto model = small_model();
  torch::optim::SGD stepped(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  take_steps(model, stepped, 0, 1);
  const auto weights = model->parameters();
  const auto full = saved(stepped);
  // The weights after one more step from `bytes`, with the first parameter's state removed after loading where asked.
  const auto step_from = [&](const std::string& bytes, bool remove_first_state) {
    auto copy = small_model();
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < weights.size(); ++i) copy->parameters()[i].copy_(weights[i]);
    }
    torch::optim::SGD sgd(copy->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    load(sgd, bytes);
    if (remove_first_state) DOCTEST_REQUIRE(sgd.state().erase(copy->parameters()[0].unsafeGetTensorImpl()) == 1);
    take_steps(copy, sgd, 1, 1);
    return copy->parameters();
  };
  const auto without_buffer =
      first_state_changed(full, [](auto state) { state.insert_or_assign("momentum_buffer", c10::IValue()); });
  const auto begun_afresh = step_from(full, /*remove_first_state=*/true);
  DOCTEST_CHECK(all_equal(step_from(without_buffer, false), begun_afresh));
  DOCTEST_CHECK(!all_equal(step_from(full, false), begun_afresh));  // the saved buffer matters
  DOCTEST_CHECK_THROWS_WITH_AS(
      load(stepped, first_state_changed(full, [](auto state) { state.insert_or_assign("momentum_buffer", torch::zeros({5})); })),
      doctest::Contains("its 'momentum_buffer' has shape [5] for a parameter of shape [5, 4]"), tt::FileError);
}

// Python reads these files (optimizer_files_check.py): it loads each optimizer.pt into the
// same PyTorch or transformers optimizer, takes the same three steps and ends at our weights.
DOCTEST_TEST_CASE("every optimizer's optimizer.pt, for Python") {
  const char* given = std::getenv("TORCHTRAIN_OPTIMIZER_FILES_FOR_PYTHON");
  DOCTEST_REQUIRE_MESSAGE(given != nullptr, "TORCHTRAIN_OPTIMIZER_FILES_FOR_PYTHON names the folder for Python");
  const fs::path folder = given;
  fs::remove_all(folder);
  fs::create_directories(folder);
  for (const auto& [name, make] : every_optimizer()) {
    if (name == "MultiTensorAdamW") continue;  // adamw_torch_fused is one
    DOCTEST_INFO(name);
    torch::manual_seed(1);
    auto model = small_model();
    auto optimizer = make(*model);
    if (!tt::optim::python_state_dict(*optimizer)) continue;  // saved in LibTorch's format, for C++ only
    take_steps(model, *optimizer, 0, 3);
    tt::io::save_safetensors(folder / (name + ".step3.safetensors"), tt::state_dict(*model));
    std::ofstream(folder / (name + ".optimizer.pt"), std::ios::binary) << saved(*optimizer);
    take_steps(model, *optimizer, 3, 3);
    tt::io::save_safetensors(folder / (name + ".step6.safetensors"), tt::state_dict(*model));
  }
}

}  // DOCTEST_TEST_SUITE

}  // namespace optimizers_tests

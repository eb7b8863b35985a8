// The memory-efficient and schedule-free optimizers inside the Trainer: resumed runs equal
// uninterrupted ones, schedule-free evaluates and saves its eval weights, the optimizers that
// update inside backward leave no gradients and refuse what they cannot do.
#include "testing.hpp"

#include <string>
#include <vector>

namespace optimizer_training_tests {
namespace fs = std::filesystem;

// Two Linear layers ("0" and "2"), the modules GaLore and APOLLO project.
torch::nn::Sequential model() {
  torch::manual_seed(7);
  return torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(), torch::nn::Linear(16, 3));
}

// A run's arguments for `optim`: 6 steps of batch 16, a checkpoint every 3, projections anew every 2.
tt::TrainingArguments arguments(tt::OptimizerNames optim, const fs::path& folder) {
  const auto name = std::string(enum_names(optim)[static_cast<std::size_t>(optim)]);
  const bool low_rank = name.starts_with("galore") || name.starts_with("apollo");
  tt::TrainingArguments args;
  args.output_dir = folder.string();
  args.per_device_train_batch_size = 16;
  args.max_steps = 6;
  args.optim = optim;
  args.optim_args = low_rank ? "rank=2,update_proj_gap=2" : "";
  args.optim_target_modules = std::vector<std::string>{"0", "2"};
  args.learning_rate = 0.01;
  args.weight_decay = 0.1;
  args.warmup_steps = 2;
  args.logging_steps = 1;
  args.save_steps = 3;
  args.report_to = {"none"};
  return args;
}

template <class... Policies>
std::vector<torch::Tensor> weights_after(tt::TrainingArguments args, const tt::ResumeFrom& resume = {}) {
  auto net = model();
  tt::Trainer<Policies...> trainer(net, args, test_support::classification_data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
  trainer.train(resume);
  std::vector<torch::Tensor> weights;
  for (const auto& parameter : net->parameters()) weights.push_back(parameter.detach().clone());
  return weights;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace optimizer_training_tests

DOCTEST_TEST_SUITE("optimizers") {
using namespace optimizer_training_tests;

DOCTEST_TEST_CASE("every memory-efficient and schedule-free optimizer, resumed by the Trainer, equals the run never stopped") {
  const auto names = enum_names(tt::OptimizerNames{});
  for (auto k = static_cast<std::size_t>(tt::OptimizerNames::galore_adamw); k < names.size(); ++k) {
    const auto optim = static_cast<tt::OptimizerNames>(k);
    DOCTEST_INFO("--optim ", names[k]);
    const auto folder = test_support::fresh_folder(std::string("resume_") + std::string(names[k]));
    const auto uninterrupted = weights_after(arguments(optim, folder / "whole"));
    // A new process goes on from the same run's checkpoint-3 to step 6.
    const auto resumed = weights_after(arguments(optim, folder / "resumed"), (folder / "whole" / "checkpoint-3").string());
    DOCTEST_CHECK(all_equal(resumed, uninterrupted));
  }
}

DOCTEST_TEST_CASE("schedule-free: evaluation and saved weights are the eval point, training goes on from the train point") {
  const auto folder = test_support::fresh_folder("schedule_free_modes");
  auto args = arguments(tt::OptimizerNames::schedule_free_adamw, folder);
  args.save_steps = 6;
  auto net = model();
  tt::Trainer<> trainer(net, args, test_support::classification_data(), tt::data::NoDataset{}, tt::loss::cross_entropy);
  torch::optim::Optimizer* made = nullptr;  // the run's optimizer, to switch its modes below
  trainer.set_optimizer_factory([&](torch::nn::Module& module, const tt::TrainingArguments& given) {
    auto optimizer = tt::optim::make_optimizer(module, given);
    made = optimizer.get();
    return optimizer;
  });
  trainer.train();
  auto* modes = dynamic_cast<tt::optim::TrainEvalModes*>(made);
  DOCTEST_REQUIRE(modes != nullptr);
  // After train() the model holds the eval point, which the checkpoint holds too.
  const auto eval_point = net[0]->as<torch::nn::Linear>()->weight.detach().clone();
  auto saved = tt::io::load_safetensors(folder / "checkpoint-6" / "model.safetensors");
  bool found = false;
  for (const auto& [name, tensor] : saved)
    if (name == "0.weight") {
      found = true;
      DOCTEST_CHECK(torch::equal(tensor, eval_point));
    }
  DOCTEST_CHECK(found);
  // train() moves to another point (the train point y), eval() back to the eval point.
  modes->train();
  DOCTEST_CHECK(!torch::allclose(net[0]->as<torch::nn::Linear>()->weight, eval_point));
  modes->eval();
  DOCTEST_CHECK(torch::allclose(net[0]->as<torch::nn::Linear>()->weight, eval_point, 1e-6, 1e-7));
}

DOCTEST_TEST_CASE("LOMO, AdaLomo and the layerwise forms free each gradient in backward, and refuse accumulation, fp16 and DDP") {
  for (auto optim : {tt::OptimizerNames::lomo, tt::OptimizerNames::adalomo, tt::OptimizerNames::galore_adamw_layerwise,
                     tt::OptimizerNames::apollo_adamw_layerwise}) {
    const auto name = enum_names(optim)[static_cast<std::size_t>(optim)];
    DOCTEST_INFO("--optim ", name);
    const auto folder = test_support::fresh_folder(std::string("in_backward_") + std::string(name));
    auto net = model();
    const auto before = net[0]->as<torch::nn::Linear>()->weight.detach().clone();
    auto optimizer = tt::optim::make_optimizer(*net, arguments(optim, folder));
    auto inputs = torch::randn({16, 8});
    torch::nn::functional::cross_entropy(net->forward(inputs), inputs.argmax(1) % 3).backward();
    // backward has updated every parameter and left no gradient behind.
    for (const auto& parameter : net->parameters()) DOCTEST_CHECK(!parameter.grad().defined());
    DOCTEST_CHECK(!torch::equal(net[0]->as<torch::nn::Linear>()->weight, before));

    auto accumulating = arguments(optim, folder);
    accumulating.gradient_accumulation_steps = 2;
    DOCTEST_CHECK_THROWS_WITH_AS(weights_after(accumulating), doctest::Contains("inside backward, so it cannot accumulate gradients: set --gradient_accumulation_steps 1"),
                                 tt::ArgumentError);
    DOCTEST_CHECK_THROWS_WITH_AS(weights_after<tt::FP16>(arguments(optim, folder)), doctest::Contains("use --bf16 instead of --fp16"),
                                 tt::ArgumentError);
  }
}

}  // DOCTEST_TEST_SUITE

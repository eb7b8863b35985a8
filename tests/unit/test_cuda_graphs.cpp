// CudaGraphs: the replayed step trains as the eager one (on CUDA), and what it cannot capture is refused before the first step.
#include "testing.hpp"

#include <string>
#include <vector>

namespace cuda_graphs_tests {

// Counts its forward calls on the host: a replayed step runs the graph's kernels, not this code.
struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl()
      : hidden(register_module("hidden", torch::nn::Linear(6, 16))),
        output(register_module("output", torch::nn::Linear(16, 4))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    ++forward_calls;
    return output(torch::relu(hidden(x)));
  }
  torch::nn::Linear hidden, output;
  int forward_calls = 0;
};
TORCH_MODULE(Classifier);

tt::data::TensorDataset classification() {
  torch::manual_seed(21);
  auto inputs = torch::randn({64, 6});
  return {inputs, inputs.argmax(1) % 4};
}

// 12 steps of 8 (an epoch and a half), a linear schedule after 2 warm-up steps and clipping
// that bites: a graph that replayed a stale rate or skipped the clip would drift from eager.
tt::TrainingArguments twelve_steps(const std::string& folder) {
  return {.output_dir = test_support::fresh_folder(folder).string(), .max_steps = 12,
          .per_device_train_batch_size = 8, .max_grad_norm = 0.5, .learning_rate = 0.05,
          .lr_scheduler_type = tt::SchedulerType::linear, .warmup_steps = 2, .logging_steps = 1,
          .disable_tqdm = true, .save_strategy = tt::SaveStrategy::no, .use_cpu = false};
}

std::vector<double> step_losses(const tt::TrainerState& state) {
  std::vector<double> losses;
  for (const auto& log : state.log_history)
    if (log.contains("loss")) losses.push_back(log.at("loss"));
  return losses;
}

DOCTEST_TEST_SUITE("cuda") {

DOCTEST_TEST_CASE("on CUDA, CudaGraphs replays the captured step and trains as the eager step: equal losses and weights") {
  const auto data = classification();
  struct Run {
    std::vector<double> losses;
    std::vector<torch::Tensor> weights;
    int forward_calls;
  };
  const auto train = [&]<class... Policies>(const std::string& folder) {
    torch::manual_seed(5);
    Classifier model;
    tt::Trainer<Policies...> trainer(model, twelve_steps(folder), data, tt::data::NoDataset{}, tt::loss::cross_entropy);
    trainer.train();
    Run run{step_losses(trainer.state()), {}, model->forward_calls};
    for (const auto& parameter : model->parameters()) run.weights.push_back(parameter.detach().cpu());
    return run;
  };
  const Run eager = train.operator()<>("eager");
  const Run graphs = train.operator()<tt::CudaGraphs>("graphs");
  // 3 eager warm-up steps and the capture ran forward on the host; the 8 replays did not.
  DOCTEST_CHECK(eager.forward_calls == 12);
  DOCTEST_CHECK(graphs.forward_calls == 4);
  // The same kernels on the same data; the graph's AdamW reads its rate from a float32
  // tensor instead of a double argument, and cuBLAS may pick another algorithm under capture:
  // differences of float rounding, far below one step's update (about 0.05 x 1 per weight).
  DOCTEST_REQUIRE(graphs.losses.size() == 12);
  DOCTEST_REQUIRE(eager.losses.size() == 12);
  for (std::size_t step = 0; step < 12; ++step) DOCTEST_CHECK(graphs.losses[step] == doctest::Approx(eager.losses[step]).epsilon(1e-4));
  for (std::size_t i = 0; i < eager.weights.size(); ++i)
    DOCTEST_CHECK(torch::allclose(graphs.weights[i], eager.weights[i], 1e-4, 1e-5));
}

}  // DOCTEST_TEST_SUITE

DOCTEST_TEST_SUITE("accumulation") {

DOCTEST_TEST_CASE("CudaGraphs refuses, before the first step, what it cannot capture, naming the flag") {
  const auto data = classification();
  const auto refusal = [&](tt::TrainingArguments args) {
    args.output_dir = test_support::fresh_folder("cuda_graphs_refused").string();
    torch::manual_seed(5);
    Classifier model;
    std::string message;
    try {  // the accumulation steps are checked as the Trainer is made, the rest as train() starts
      tt::Trainer<tt::CudaGraphs> trainer(model, args, data, tt::data::NoDataset{}, tt::loss::cross_entropy);
      trainer.train();
    } catch (const tt::ArgumentError& error) {
      message = error.what();
    }
    DOCTEST_CHECK(model->forward_calls == 0);  // refused before any step
    return message;
  };
  const tt::TrainingArguments on_cpu{.max_steps = 2, .per_device_train_batch_size = 8, .disable_tqdm = true,
                                     .save_strategy = tt::SaveStrategy::no, .use_cpu = true};
  auto args = on_cpu;
  args.gradient_accumulation_steps = 2;
  DOCTEST_CHECK(refusal(args).starts_with("--gradient_accumulation_steps 2: CudaGraphs captures an optimizer step of "
                                          "one micro-batch; set --gradient_accumulation_steps 1"));
  args = on_cpu;
  args.optim = tt::OptimizerNames::adamw_torch;
  DOCTEST_CHECK(refusal(args).starts_with("--optim adamw_torch: CudaGraphs captures the optimizer step in a CUDA "
                                          "graph, and only the fused AdamW"));
  args = on_cpu;
  args.torch_empty_cache_steps = 1;
  DOCTEST_CHECK(refusal(args).starts_with("--torch_empty_cache_steps: CudaGraphs replays a graph"));
  DOCTEST_CHECK(refusal(on_cpu) == "CudaGraphs captures each training step in a CUDA graph, but this run trains on "
                                   "the cpu (--use_cpu is set); train on a CUDA device, or drop CudaGraphs from the "
                                   "Trainer's policies");
}

}  // DOCTEST_TEST_SUITE

}  // namespace cuda_graphs_tests

// Must not compile: with_policies(...) given a policy the Trainer does not name. Its twin (TORCHTRAIN_TWIN) names it and compiles.
#include <torchtrain/torchtrain.hpp>

namespace tt = torchtrain;

int main() {
  torch::nn::Linear model(2, 1);
  auto inputs = torch::randn({8, 2});
#ifdef TORCHTRAIN_TWIN
  tt::Trainer<tt::AsyncCheckpoint> trainer(
#else
  tt::Trainer<> trainer(
#endif
      tt::with_policies(tt::AsyncCheckpoint("checkpoints")), model, {.max_steps = 1},
      tt::data::TensorDataset(inputs, inputs.sum(1, /*keepdim=*/true)), tt::data::NoDataset{},
      tt::loss::mean_squared_error);
  return trainer.state().global_step;
}

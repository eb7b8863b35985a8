// Must not compile: a compute_loss whose model parameter is not the Trainer's model. Its twin (TORCHTRAIN_TWIN) takes the Trainer's model and compiles.
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Loss {
#ifdef TORCHTRAIN_TWIN
  torch::Tensor compute_loss(torch::nn::Linear& model, const torchtrain::data::Batch& batch) {
#else
  torch::Tensor compute_loss(torch::nn::Conv1d& model, const torchtrain::data::Batch& batch) {
#endif
    return model->forward(batch.inputs).sum();
  }
};
}  // namespace my

int main() {
  torch::nn::Linear model(2, 1);
  torchtrain::data::TensorDataset data(torch::zeros({4, 2}), torch::zeros({4}));
  torchtrain::Trainer<> trainer(model, torchtrain::TrainingArguments{}, data, torchtrain::data::NoDataset{}, my::Loss{});
  return 0;
}

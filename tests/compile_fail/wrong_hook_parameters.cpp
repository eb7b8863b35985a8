// Must not compile: on_log without the logs parameter would never be called.
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

namespace my {
struct LogWithoutMetrics {
  void on_step_end(const torchtrain::TrainingArguments&, const torchtrain::TrainerState&, torchtrain::TrainerControl&) {}
  void on_log(const torchtrain::TrainingArguments&, const torchtrain::TrainerState&, torchtrain::TrainerControl&) {}
};
}  // namespace my

int main() {
  torch::nn::Linear model(2, 1);
  torchtrain::data::TensorDataset data(torch::zeros({4, 2}), torch::zeros({4, 1}));
  torchtrain::Trainer<> trainer(model, {}, data, torchtrain::data::NoDataset{}, torchtrain::loss::mean_squared_error,
                                torchtrain::NoMetrics{}, torchtrain::callbacks(my::LogWithoutMetrics{}));
}

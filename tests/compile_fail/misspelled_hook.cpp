// Must not compile: a callback whose only hook is misspelled would never be called.
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Misspelled {
  void on_stepend(const torchtrain::TrainingArguments&, const torchtrain::TrainerState&, torchtrain::TrainerControl&) {}
};
}  // namespace my

int main() {
  torch::nn::Linear model(2, 1);
  torchtrain::data::TensorDataset data(torch::zeros({4, 2}), torch::zeros({4, 1}));
  torchtrain::Trainer<> trainer(model, {}, data, torchtrain::data::NoDataset{}, torchtrain::loss::mean_squared_error,
                                torchtrain::NoMetrics{}, torchtrain::callbacks(my::Misspelled{}));
}

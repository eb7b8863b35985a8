// Must not compile: CudaGraphs with FP16, whose loss scaler reads its overflow check on the host. Its twin (TORCHTRAIN_TWIN) uses BF16 and compiles.
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#ifdef TORCHTRAIN_TWIN
using Precision = torchtrain::BF16;
#else
using Precision = torchtrain::FP16;
#endif

int main() {
  torch::nn::Linear model(2, 3);
  torchtrain::data::TensorDataset data(torch::zeros({4, 2}), torch::zeros({4}, torch::kLong));
  torchtrain::Trainer<Precision, torchtrain::CudaGraphs> trainer(model, torchtrain::TrainingArguments{}, data,
                                                                 torchtrain::data::NoDataset{}, torchtrain::loss::cross_entropy);
  return 0;
}

// Must not compile: CudaGraphs with PrecisionFromArguments, which may pick FP16 (whose loss scaler reads its overflow check on the host) at run time. Its twin (TORCHTRAIN_TWIN) names BF16 and compiles.
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#ifdef TORCHTRAIN_TWIN
using Precision = torchtrain::BF16;
#else
using Precision = torchtrain::PrecisionFromArguments;
#endif

int main() {
  torch::nn::Linear model(2, 3);
  torchtrain::data::TensorDataset data(torch::zeros({4, 2}), torch::zeros({4}, torch::kLong));
  torchtrain::Trainer<Precision, torchtrain::CudaGraphs> trainer(model, torchtrain::TrainingArguments{}, data,
                                                                 torchtrain::data::NoDataset{}, torchtrain::loss::cross_entropy);
  return 0;
}

// Must not compile: a strategy policy without barrier(what). Its twin (TORCHTRAIN_TWIN) has it and compiles.
#include <torchtrain/torchtrain.hpp>

namespace my {
// One process on the CPU, spelled out: every hook of a strategy.
struct Strategy {
  using torchtrain_category = torchtrain::category::strategy;
  struct Scope {};
  template <class Model>
  void setup(Model& model, const torchtrain::TrainingArguments&) { model->to(torch::kCPU); }
  torch::Device device() const { return torch::kCPU; }
  Scope gradient_sync(bool) { return {}; }
  void synchronize_buffers() {}
  torch::Tensor reduce_sum(const torch::Tensor& value) const { return value; }
  torch::Tensor reduce_mean(const torch::Tensor& value) const { return value; }
#ifdef TORCHTRAIN_TWIN
  void barrier(std::string_view) const {}
#endif
  torch::Tensor evaluation_shard(std::int64_t size) const { return torch::arange(size); }
  torch::Tensor gather_shards(const torch::Tensor& outputs, std::int64_t) const { return outputs; }
  template <class Model>
  torchtrain::StateDict state_dict(Model& model) { return torchtrain::state_dict(*model); }
  std::vector<std::string> gather_bytes(std::string bytes) { return {bytes}; }
  int rank() const { return 0; }
  int local_rank() const { return 0; }
  int world_size() const { return 1; }
  bool is_main_process() const { return true; }
};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<my::Strategy>) > 0 ? 0 : 1; }

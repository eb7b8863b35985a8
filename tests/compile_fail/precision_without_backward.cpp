// Must not compile: a precision policy without backward(). Its twin (TORCHTRAIN_TWIN) has it and compiles.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Precision {
  using torchtrain_category = torchtrain::category::precision;
  static constexpr std::string_view name = "mine";
  void configure(torchtrain::TrainingArguments&) {}
  void setup(torch::Device) {}
  template <class Forward>
  decltype(auto) autocast(Forward&& forward) { return forward(); }
#ifdef TORCHTRAIN_TWIN
  void backward(const torch::Tensor& loss) { loss.backward(); }
#endif
  void unscale_gradients(torch::optim::Optimizer&) {}
  bool optimizer_step(torch::optim::Optimizer& optimizer) {
    optimizer.step();
    return true;
  }
  c10::IValue state_dict() const { return {}; }
  void load_state_dict(const c10::IValue&, std::string_view) {}
};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<my::Precision>) > 0 ? 0 : 1; }

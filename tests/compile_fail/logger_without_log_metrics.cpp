// Must not compile: a logger policy without log_metrics. Its twin (TORCHTRAIN_TWIN) has it and compiles.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Logger {
  using torchtrain_category = torchtrain::category::logger;
  void log(const torchtrain::Metrics&, const torchtrain::TrainerState&) {}
#ifdef TORCHTRAIN_TWIN
  void log_metrics(std::string_view, const torchtrain::Metrics&) {}
#endif
};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<my::Logger>) > 0 ? 0 : 1; }

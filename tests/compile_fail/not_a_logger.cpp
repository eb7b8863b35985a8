// Must not compile: Loggers<...> of a type that is no logger policy. The error names the type.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Printer {  // logs, but names no category
  void log(const torchtrain::Metrics&, const torchtrain::TrainerState&) {}
  void log_metrics(std::string_view, const torchtrain::Metrics&) {}
};
}  // namespace my

int main() { return sizeof(torchtrain::Loggers<torchtrain::ConsoleLogger, my::Printer>) > 0; }

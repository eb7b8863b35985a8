// Must not compile: an accumulation policy without steps(args). Its twin (TORCHTRAIN_TWIN) has it and compiles.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Accumulation : torchtrain::MicroBatchWindow {
  using torchtrain_category = torchtrain::category::accumulation;
#ifdef TORCHTRAIN_TWIN
  int steps(const torchtrain::TrainingArguments&) const { return 2; }
#endif
};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<my::Accumulation>) > 0 ? 0 : 1; }

// Must not compile: two strategies, one of them the user's. The error names both.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct Strategy : torchtrain::SingleDevice {};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<torchtrain::SingleDevice, my::Strategy>) > 0; }

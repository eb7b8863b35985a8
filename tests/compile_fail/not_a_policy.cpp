// Must not compile: a type that is no policy. The error names the type.
#include <torchtrain/torchtrain.hpp>

namespace my {
struct NotAPolicy {};
}  // namespace my

int main() { return sizeof(torchtrain::Trainer<torchtrain::FP32, my::NotAPolicy>) > 0; }

// Must not compile: two precision policies. The error names the category and both policies.
#include <torchtrain/torchtrain.hpp>

int main() { return sizeof(torchtrain::Trainer<torchtrain::FP32, torchtrain::FP32>) > 0; }

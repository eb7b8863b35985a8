// Must not compile: accumulation over zero micro-batches.
#include <torchtrain/torchtrain.hpp>

int main() { return sizeof(torchtrain::Trainer<torchtrain::Accum<0>>) > 0; }

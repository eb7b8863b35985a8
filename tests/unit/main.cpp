// The doctest runner of the unit tests. A run for the suite `cuda` (the cases that need a
// CUDA device) ends at once with status 77 where there is none, which CTest reports as
// skipped (SKIP_RETURN_CODE), so that a missing GPU never reads as a pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include "testing.hpp"

#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--test-suite=cuda" && !torch::cuda::is_available()) {
      std::puts("skipped: these cases need a CUDA device, and this machine has none");
      return test_support::skipped;
    }
  return context.run();
}

// torchtrain.hpp in compiled mode (TORCHTRAIN_HEADER_ONLY=0) reaches nlohmann's json_fwd.hpp,
// never its whole json.hpp: parsing that costs every program about 1.5 s of its compile.
// Built like the project's programs (torchtrain::compiled, the shared precompiled header of
// <torch/torch.h> and torchtrain.hpp), so the macros below are those that header leaves.
#include <cstdio>

#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

int main() {
#if !defined(INCLUDE_NLOHMANN_JSON_FWD_HPP_)
  std::puts("torchtrain.hpp no longer reaches <nlohmann/json_fwd.hpp>: is this check still built as intended?");
  return 1;
#elif defined(INCLUDE_NLOHMANN_JSON_HPP_)
  std::puts("torchtrain.hpp reaches <nlohmann/json.hpp> in compiled mode: a header a program sees includes it "
            "outside its `#if TORCHTRAIN_DEFINITIONS` block; include <nlohmann/json_fwd.hpp> there instead");
  return 1;
#else
  std::puts("torchtrain.hpp (compiled mode) declares nlohmann::json without its parser");
  return 0;
#endif
}

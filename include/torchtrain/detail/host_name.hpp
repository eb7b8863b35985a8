// The name of this machine, as file names of logs carry it.
#pragma once

#include <string>

#include <torchtrain/core/config.hpp>

namespace torchtrain::detail {

/// The host name (what Python's `socket.gethostname()` returns); "localhost" when the
/// system does not say.
TORCHTRAIN_INLINE std::string host_name();

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <unistd.h>

namespace torchtrain::detail {

TORCHTRAIN_INLINE std::string host_name() {
  char host[256] = "";  // zero-filled: a name of 255 bytes still ends in a NUL
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_DEFINITIONS

// libtorchtrain_compiled: every definition of torchtrain that does not depend on a user's
// types, compiled once (TORCHTRAIN_HEADER_ONLY=0; see include/torchtrain/core/config.hpp).
#define TORCHTRAIN_COMPILING_LIBRARY
#include <torchtrain/torchtrain.hpp>

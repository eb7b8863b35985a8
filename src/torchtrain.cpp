// libtorchtrain_compiled: every definition of torchtrain that does not depend on a user's
// types, compiled once (TORCHTRAIN_HEADER_ONLY=0; see include/torchtrain/core/config.hpp).
#define TORCHTRAIN_COMPILING_LIBRARY
#include <torchtrain/torchtrain.hpp>
// The JSON helpers that torchtrain.hpp leaves out.
#include <torchtrain/io/metrics_json.hpp>
#include <torchtrain/io/python_json.hpp>
#include <torchtrain/io/reflected_json.hpp>

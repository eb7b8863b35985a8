// A fixture for tests/architecture/check_layers.py: trainer includes core, below it, allowed.
#pragma once

#include <torchtrain/core/y.hpp>

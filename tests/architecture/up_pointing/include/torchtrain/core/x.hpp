// A fixture for tests/architecture/check_layers.py: core includes trainer, which is above it.
#pragma once

#include <torchtrain/core/y.hpp>
#include <torchtrain/trainer/z.hpp>

// The heavy headers every torchtrain translation unit of this project shares, precompiled once.
#pragma once
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

// LoaderSetup: what a data loader is made from, for users who build it their own way (the Python get_*_dataloader).
#pragma once

#include <functional>

#include <torchtrain/data/data_loader.hpp>
#include <torchtrain/data/sampler.hpp>

namespace torchtrain::data {

/// How the Trainer is about to make a data loader: the options the arguments give, and for
/// training the order of each epoch (empty: the Trainer's own, as --train_sampling_strategy
/// says). A training sampler's order is sharded across processes as PyTorch's
/// DistributedSampler shards it, and recomputed on resume, so a resumed run stays exact.
struct LoaderSetup {
  DataLoaderOptions options;
  AnySampler sampler;
};

/// Changes a LoaderSetup in place (see Trainer::set_train_dataloader).
using LoaderCustomization = std::function<void(LoaderSetup&)>;

}  // namespace torchtrain::data

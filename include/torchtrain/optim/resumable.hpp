// Optimizers whose load() restores each parameter group's options as well as its state.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

namespace torchtrain::detail {

/// Sets each parameter group's options (learning rate, betas, ...) to those an archive of
/// torch::optim::serialize holds. LibTorch's own loading reads them and
/// drops them, so a rate a scheduler had changed would come back as the optimizer was built.
/// Requires the archive's groups to match the optimizer's, as a successful load() checks.
template <class Options>
void load_group_options(torch::serialize::InputArchive& archive, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive groups;
  archive.read("param_groups", groups);
  auto& target = optimizer.param_groups();
  std::vector<Options> loaded;  // all read before any is set, so that a bad archive changes nothing
  for (std::size_t g = 0; g < target.size(); ++g) {
    torch::serialize::InputArchive group, options;
    groups.read("param_groups/" + std::to_string(g), group);
    group.read("options", options);
    loaded.emplace_back(0.0).serialize(options);
  }
  for (std::size_t g = 0; g < target.size(); ++g) static_cast<Options&>(target[g].options()) = loaded[g];
}

}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// A LibTorch optimizer (`Optimizer`, with options `Options`) whose load() also restores the
/// options of each group, so that a run resumed from save() continues exactly: same state,
/// same learning rates. make_optimizer returns these.
template <class Optimizer, class Options>
class Resumable : public Optimizer {
 public:
  using Optimizer::Optimizer;

  void load(torch::serialize::InputArchive& archive) override {
    Optimizer::load(archive);
    torchtrain::detail::load_group_options<Options>(archive, *this);
  }
};

}  // namespace torchtrain::optim

// Optimizers that update each parameter inside backward (LOMO, AdaLomo, the layerwise forms).
#pragma once

namespace torchtrain::optim {

/// An optimizer that can update each parameter as soon as backward has accumulated its
/// gradient, and then free that gradient, so that no full set of gradients ever exists.
/// The Trainer asks for it once, before training: with `updates_in_backward()` true its
/// `step()` does nothing, and there is no gradient left to clip or to accumulate.
class UpdatesInBackward {
 public:
  virtual ~UpdatesInBackward() = default;
  virtual bool updates_in_backward() const = 0;
};

}  // namespace torchtrain::optim

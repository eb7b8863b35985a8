// Optimizers whose parameters hold other weights in training than in evaluation (schedule-free).
#pragma once

namespace torchtrain::optim {

/// An optimizer with a train and an eval mode, as the Python `schedulefree` package's: in
/// training the model holds the weights the gradient is taken at, in evaluation the
/// averaged weights to evaluate and keep. The Trainer calls `eval()` before it evaluates or
/// saves and `train()` before each training step, as the Python Trainer calls
/// `optimizer.eval()` and `optimizer.train()`; both do nothing when already in that mode.
class TrainEvalModes {
 public:
  virtual ~TrainEvalModes() = default;
  virtual void train() = 0;
  virtual void eval() = 0;
};

}  // namespace torchtrain::optim

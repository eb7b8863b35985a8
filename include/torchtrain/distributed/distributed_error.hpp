// DistributedError: a distributed run that cannot start or cannot go on (bad launch variables, a dead rank, a timeout).
#pragma once

#include <stdexcept>

namespace torchtrain::distributed {

/// Thrown on every rank that meets the problem. The message says which variable, rank or
/// collective failed and what to do about it.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace torchtrain::distributed

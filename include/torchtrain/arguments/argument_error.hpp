// ArgumentError: a setting that cannot work, reported before any training starts.
#pragma once

#include <stdexcept>
#include <string>

namespace torchtrain {

/// Thrown for a wrong flag or a contradiction between settings. The message names the
/// flag (as `--name`) and says what to do.
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace torchtrain

// The error types: each says what went wrong, where, and what to do about it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace torchtrain {

/// Thrown for a wrong flag or a contradiction between settings, before any training
/// starts. The message names the flag (as `--name`) and says what to do.
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Thrown when a file or folder cannot be written, read or published. The message names
/// the path, says what is wrong and what to do, e.g. "cannot write 'out/model.safetensors':
/// No space left on device; free space on that disk or choose another --output_dir".
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Why a value in a checkpoint's file is refused that no run could have saved there (a
/// negative count, NaN): what a FileError says after the file's name.
inline std::string no_run_reaches(std::string_view key, std::string_view value) {
  return std::string("its '").append(key).append("' is ").append(value).append(
      ", which no run reaches: the file was edited or is damaged; resume from another checkpoint");
}

/// Thrown when training cannot go on because of what it computed, e.g. a loss that is not
/// a finite number under `--debug underflow_overflow`. The message names the step, the
/// value and what to change; checkpoints saved before stay intact.
struct TrainingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace data {
/// A data file that cannot be read: the message names the file and, where it applies,
/// the line and column.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
}  // namespace data

namespace distributed {
/// A distributed run that cannot start or cannot go on (bad launch variables, a dead rank,
/// a timeout), thrown on every rank that meets it. The message says which variable, rank
/// or collective failed and what to do about it.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
}  // namespace distributed

}  // namespace torchtrain

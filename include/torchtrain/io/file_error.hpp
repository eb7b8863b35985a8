// FileError: a file or folder that could not be written, read or published.
#pragma once

#include <stdexcept>

namespace torchtrain {

/// Thrown when a file or folder cannot be written, read or published. The message names
/// the path, says what is wrong and what to do, e.g. "cannot write 'out/model.safetensors':
/// No space left on device; free space on that disk or choose another --output_dir".
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace torchtrain

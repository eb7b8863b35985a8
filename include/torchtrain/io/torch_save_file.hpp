// A torch.save file written straight into a FileWriter: no copy of the tensors in memory.
#pragma once

#include <ATen/core/ivalue.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/torch_pickle.hpp>

namespace torchtrain::io {

/// Writes into `file` the bytes `torch.save(value)` writes in Python, the very bytes
/// torch_save_bytes (io/torch_pickle.hpp) returns for the same value, which Python's
/// `torch.load(file, weights_only=True)` reads: each tensor goes from its own memory to the
/// file (and its CRC), where torch_save_bytes gathers the whole archive in a string.
/// (LibTorch's pickler memoizes a dict or tensor that is referenced elsewhere too, so the
/// bytes depend on what else holds the value's parts, as with torch_save_bytes.) The
/// caller finishes the file. Throws FileError when a write fails.
TORCHTRAIN_INLINE void write_torch_save(FileWriter& file, const c10::IValue& value);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstddef>

namespace torchtrain::io {

TORCHTRAIN_INLINE void write_torch_save(FileWriter& file, const c10::IValue& value) {
  write_torch_save_to([&](const void* data, std::size_t size) { file.write(data, size); }, value);
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

// A torch.save file written straight into a FileWriter: no copy of the tensors in memory.
#pragma once

#include <ATen/core/ivalue.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::io {

/// Writes into `file` the bytes `torch.save(value)` writes in Python, the very bytes
/// torch_save_bytes (io/torch_pickle.hpp) returns for the same value, which Python's
/// `torch.load(file, weights_only=True)` reads: each tensor goes from its own memory to the
/// file (and its CRC), where torch_save_bytes first gathers the whole archive in a string.
/// (LibTorch's pickler memoizes a dict or tensor that is referenced elsewhere too, so the
/// bytes depend on what else holds the value's parts, as with torch_save_bytes.) The
/// caller finishes the file. Throws FileError when a write fails.
TORCHTRAIN_INLINE void write_torch_save(FileWriter& file, const c10::IValue& value);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstddef>
#include <exception>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

namespace torchtrain::io {

TORCHTRAIN_INLINE void write_torch_save(FileWriter& file, const c10::IValue& value) {
  std::vector<char> pickled;
  torch::jit::Pickler pickler([&](const char* data, std::size_t size) { pickled.insert(pickled.end(), data, data + size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  // The writer calls back from C code (miniz), which an exception must not cross: the first
  // failure is kept, the rest of the archive skipped, and the failure thrown here.
  std::exception_ptr failure;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t size) {
    if (!failure) try {
        file.write(data, size);
      } catch (...) {
        failure = std::current_exception();
      }
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

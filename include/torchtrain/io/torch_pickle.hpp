// Python's torch.save format in memory: the files a Python Trainer's checkpoint holds.
#pragma once

#include <string>
#include <string_view>

#include <ATen/core/ivalue.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::io {

/// A Python dict (any keys, any values), as torch_save_bytes writes and torch_load_bytes reads.
TORCHTRAIN_INLINE c10::impl::GenericDict python_dict();
/// A Python list of any values.
TORCHTRAIN_INLINE c10::impl::GenericList python_list();
template <class Range>
c10::impl::GenericList python_list(const Range& values) {
  auto list = python_list();
  for (const auto& value : values) list.push_back(c10::IValue(value));
  return list;
}

/// The bytes `torch.save(value, file)` writes in Python (a zip of `data.pkl` and one
/// record per tensor), which Python's `torch.load(file, weights_only=True)` reads. Dicts,
/// lists, tuples, strings, numbers, None and CPU or CUDA tensors. Unlike
/// `torch::pickle_save`, no TorchScript type tags are written: `weights_only` refuses them.
TORCHTRAIN_INLINE std::string torch_save_bytes(const c10::IValue& value);

/// Reads what torch_save_bytes or Python's `torch.save` wrote, with the tensors on the
/// CPU. LibTorch's unpickler reads dicts, lists, tuples, strings, None, floats, integers
/// of up to 64 bits and tensors, not other Python objects: FileError naming `file_name`.
TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const std::string& bytes, std::string_view file_name);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE c10::impl::GenericDict python_dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

TORCHTRAIN_INLINE c10::impl::GenericList python_list() { return c10::impl::GenericList(c10::AnyType::get()); }

TORCHTRAIN_INLINE std::string torch_save_bytes(const c10::IValue& value) {
  std::vector<char> pickled;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickled.insert(pickled.end(), data, data + size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::string bytes;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return bytes;
}

TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const std::string& bytes, std::string_view file_name) {
  try {
    return torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error& error) {
    throw FileError(fmt::format("cannot read '{}' as a torch.save file: {}; the file is damaged or was not written by "
                                "torch.save",
                                file_name, torchtrain::detail::libtorch_reason(error.what_without_backtrace())));
  }
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

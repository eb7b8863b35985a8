// Python's torch.save format in memory: the files a Python Trainer's checkpoint holds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <ATen/core/ivalue.h>
#include <c10/util/FunctionRef.h>

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

/// Passes the bytes torch_save_bytes returns for `value` to `write(data, size)`, in order,
/// without gathering them: each tensor goes from its own memory to `write` (the one writer
/// of the format: io::write_torch_save streams it into a file). LibTorch's pickler
/// memoizes a dict or tensor that is referenced elsewhere too, so the bytes depend on what
/// else holds the value's parts. The first exception `write` throws ends the writing and
/// is rethrown.
TORCHTRAIN_INLINE void write_torch_save_to(c10::function_ref<void(const void*, std::size_t)> write,
                                           const c10::IValue& value);

/// Reads what torch_save_bytes or Python's `torch.save` wrote, with the tensors on the
/// CPU. LibTorch's unpickler reads dicts, lists, tuples, strings, None, floats, integers
/// of up to 64 bits and tensors, not other Python objects: FileError naming `file_name`.
TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const std::string& bytes, std::string_view file_name);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <fmt/format.h>
#include <torch/csrc/jit/frontend/error_report.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE c10::impl::GenericDict python_dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

TORCHTRAIN_INLINE c10::impl::GenericList python_list() { return c10::impl::GenericList(c10::AnyType::get()); }

TORCHTRAIN_INLINE void write_torch_save_to(c10::function_ref<void(const void*, std::size_t)> write,
                                           const c10::IValue& value) {
  std::vector<char> pickled;  // the structure alone: the tensors' bytes are records of their own
  torch::jit::Pickler pickler([&](const char* data, std::size_t size) { pickled.insert(pickled.end(), data, data + size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  // The zip writer calls back from C code (miniz), which an exception must not cross: the
  // first failure is kept, the rest of the archive skipped, and the failure thrown here.
  std::exception_ptr failure;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t size) {
    if (!failure) try {
        write(data, size);
      } catch (...) {
        failure = std::current_exception();
      }
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  if (failure) std::rethrow_exception(failure);
}

TORCHTRAIN_INLINE std::string torch_save_bytes(const c10::IValue& value) {
  std::string bytes;
  write_torch_save_to([&](const void* data, std::size_t size) { bytes.append(static_cast<const char*>(data), size); },
                      value);
  return bytes;
}

namespace detail {

// The bytes of a torch.save file, read where they lie: torch::jit::pickle_load would copy
// them twice before its zip reader copies each record out once more.
class BytesReader final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BytesReader(std::string_view bytes) : bytes_(bytes) {}
  std::size_t size() const override { return bytes_.size(); }
  std::size_t read(std::uint64_t position, void* destination, std::size_t size, const char*) const override {
    if (position >= bytes_.size()) return 0;
    size = std::min<std::size_t>(size, bytes_.size() - position);
    std::memcpy(destination, bytes_.data() + position, size);
    return size;
  }

 private:
  std::string_view bytes_;
};

}  // namespace detail

TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const std::string& bytes, std::string_view file_name) {
  try {
    // What pickle_load reads, from the bytes in place.
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<detail::BytesReader>(bytes));
    return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                             /*type_resolver=*/std::nullopt, /*obj_loader=*/std::nullopt,
                                             /*device=*/std::nullopt, reader);
  } catch (const c10::Error& error) {
    throw FileError(fmt::format("cannot read '{}' as a torch.save file: {}; the file is damaged or was not written by "
                                "torch.save",
                                file_name, torchtrain::detail::libtorch_reason(error.what_without_backtrace())));
  } catch (const torch::jit::ErrorReport& error) {  // a class name the unpickler does not know
    throw FileError(fmt::format("cannot read '{}' as a torch.save file: {}; the file is damaged or was not written by "
                                "torch.save",
                                file_name, torchtrain::detail::libtorch_reason(error.what())));
  }
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

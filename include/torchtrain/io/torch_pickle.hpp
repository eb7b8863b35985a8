// Python's torch.save format in memory: the files a Python Trainer's checkpoint holds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <ATen/core/ivalue.h>
#include <c10/util/FunctionRef.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/shared_bytes.hpp>

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

/// As above, with the tensors' storages in `bytes` themselves wherever a record lies as
/// torch.save writes it (uncompressed, 64-byte aligned): each tensor keeps the bytes alive,
/// and nothing is copied (a mapped checkpoint file is loaded without touching new memory).
/// Writing to such a tensor changes a private copy of its pages (SharedBytes::map_file).
TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const SharedBytes& bytes, std::string_view file_name);

/// The value under `key` in `dict`, a dict read from a file. c10's Dict::at throws
/// std::out_of_range, whose message names neither the key nor the file; this throws a
/// c10::Error naming the key, which each reader turns into a FileError naming the file.
TORCHTRAIN_INLINE c10::IValue value_at(const c10::impl::GenericDict& dict, const c10::IValue& key);

/// True for a tensor whose memory the overload above left in the bytes it read.
TORCHTRAIN_INLINE bool is_in_place(const at::Tensor& tensor);

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
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/csrc/jit/serialization/storage_context.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/archive_check.hpp>

namespace torchtrain::io {

TORCHTRAIN_INLINE c10::impl::GenericDict python_dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

TORCHTRAIN_INLINE c10::impl::GenericList python_list() { return c10::impl::GenericList(c10::AnyType::get()); }

TORCHTRAIN_INLINE c10::IValue value_at(const c10::impl::GenericDict& dict, const c10::IValue& key) {
  const auto found = dict.find(key);
  TORCH_CHECK(found != dict.end(), "it has no key ", key.isString() ? "'" + key.toStringRef() + "'" : c10::str(key));
  return found->value();
}

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

// The deleter of a storage in the bytes torch_load_bytes read: lets go of their owner.
inline void release_bytes(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

// The records of `reader` (reading `bytes`) that torch.save's writer laid out: stored, not
// compressed, and aligned to 64 bytes, as storages pointing into `bytes` and owned by `owner`,
// by the key the unpickler asks for. A storage has exactly its record's size, so a tensor
// that claims more is refused by LibTorch's bounds check, as when it reads the record.
inline std::shared_ptr<torch::jit::DeserializationStorageContext> storages_in_place(
    caffe2::serialize::PyTorchStreamReader& reader, std::string_view bytes, const std::shared_ptr<const void>& owner) {
  constexpr std::string_view folder = "data/";  // where torch.save puts the tensor records
  constexpr std::size_t method_offset = 8;     // of a zip local file header: 0 means stored
  auto storages = std::make_shared<torch::jit::DeserializationStorageContext>();
  for (const auto& name : reader.getAllRecords()) {
    if (!name.starts_with(folder)) continue;
    const auto header = reader.getRecordHeaderOffset(name);
    const auto start = reader.getRecordOffset(name);
    const auto size = reader.getRecordSize(name);
    const bool stored =
        header + method_offset + 2 <= bytes.size() && little_endian(bytes, header + method_offset, 2) == 0;
    if (!stored || start > bytes.size() || size > bytes.size() - start) continue;
    const auto* data = bytes.data() + start;
    if (reinterpret_cast<std::uintptr_t>(data) % 64 != 0) continue;
    at::DataPtr pointer(const_cast<char*>(data), new std::shared_ptr<const void>(owner), release_bytes, at::kCPU);
    storages->addStorage(name.substr(folder.size()),
                         c10::Storage(c10::Storage::use_byte_size_t(), size, std::move(pointer), nullptr, false));
  }
  return storages;
}

// Reads a torch.save file from `bytes`, in place; with `owner`, the records too (above).
inline c10::IValue load_torch_save(std::string_view bytes, const std::shared_ptr<const void>* owner,
                                   std::string_view file_name) {
  const auto damaged = [&](std::string_view reason) {
    return FileError(fmt::format("cannot read '{}' as a torch.save file: {}; the file is damaged or was not written "
                                 "by torch.save",
                                 file_name, torchtrain::detail::libtorch_reason(reason)));
  };
  try {
    check_archive(bytes);
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BytesReader>(bytes));
    return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                             /*type_resolver=*/std::nullopt, /*obj_loader=*/std::nullopt,
                                             /*device=*/std::nullopt, reader, torch::jit::Unpickler::defaultTypeParser,
                                             owner ? storages_in_place(reader, bytes, *owner) : nullptr);
  } catch (const c10::Error& error) {
    throw damaged(error.what_without_backtrace());
  } catch (const std::exception& error) {
    // LibTorch's unpickler also throws the standard library's exceptions on bytes it cannot
    // make sense of: torch::jit::ErrorReport for a class name it does not know,
    // std::out_of_range for an object whose fields are missing.
    throw damaged(error.what());
  }
}

}  // namespace detail

TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const std::string& bytes, std::string_view file_name) {
  return detail::load_torch_save(bytes, nullptr, file_name);
}

TORCHTRAIN_INLINE c10::IValue torch_load_bytes(const SharedBytes& bytes, std::string_view file_name) {
  return detail::load_torch_save(bytes.view(), &bytes.owner(), file_name);
}

TORCHTRAIN_INLINE bool is_in_place(const at::Tensor& tensor) {
  return tensor.defined() && tensor.has_storage() && tensor.storage().data_ptr().get_deleter() == &detail::release_bytes;
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

// Safetensors, Hugging Face's tensor file format: written straight from tensor memory, and
// read with every check the format allows, so that a damaged file is an error, never a crash.
#pragma once

#include <bit>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian, and torchtrain writes it straight from tensor memory");

/// Tensors with their names, in the order a caller gives them or a file holds them.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
/// The string-to-string map a safetensors header may carry under "__metadata__".
using SafetensorsMetadata = std::map<std::string, std::string>;

/// Writes `tensors` and `metadata` in the safetensors format to an open file; the caller
/// finishes it (FileWriter::finish gives the size and CRC-32). The file holds the tensors
/// in the reference writer's order: by dtype alignment, largest first, then by name.
/// Tensors on the CPU and contiguous are written from their memory without a copy; others
/// are copied to that form first. May run on a thread of its own (an asynchronous
/// checkpoint) while nothing changes the tensors, e.g. on CPU copies taken for it.
/// Requires: names unique and not "__metadata__"; dtypes among F64, F32, F16, BF16, I64,
/// I32, I16, I8, U8 and BOOL; dense tensors; UTF-8 names and metadata. Throws FileError,
/// before writing anything when a requirement is not met.
TORCHTRAIN_INLINE void save_safetensors(FileWriter& file, const NamedTensors& tensors,
                                        const SafetensorsMetadata& metadata = {{"format", "pt"}});

/// Writes `tensors` to a new file at `path`, synced to disk, as the overload above does;
/// `{"format": "pt"}` is what Hugging Face's PyTorch writers put in the metadata. Throws
/// FileError, creating no file when a requirement is not met; a write that fails midway
/// leaves a partial file, so write into a folder that publish_directory() makes visible.
TORCHTRAIN_INLINE void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                                        const SafetensorsMetadata& metadata = {{"format", "pt"}});

/// The tensors of the safetensors file at `path`, on the CPU, in the order of their data
/// in the file. Checks everything first: a short file, a header that is not the format's
/// JSON, an unknown dtype, shapes and offsets that disagree, gaps, overlaps, trailing
/// bytes and BOOL bytes other than 0 and 1 all throw a FileError naming the file. With
/// `checksum`, puts there the length and CRC-32 of the whole file: a caller checks the
/// file without reading it twice. The tensors share the file's mapped pages (as Python's
/// safetensors does; see SharedBytes::map_file): nothing is copied, and each keeps the
/// mapping alive; copy them (load_state_dict does) to hold the values for long.
TORCHTRAIN_INLINE NamedTensors load_safetensors(const std::filesystem::path& path, FileChecksum* checksum = nullptr);

/// The "__metadata__" of the safetensors file at `path` (empty when it has none), after the
/// same checks of the header as load_safetensors makes, without reading tensor data.
/// Throws FileError.
TORCHTRAIN_INLINE SafetensorsMetadata read_safetensors_metadata(const std::filesystem::path& path);

}  // namespace torchtrain::io

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/shared_bytes.hpp>

namespace torchtrain::io {

namespace detail {

struct SafetensorsDtype {
  std::string_view name;
  c10::ScalarType type;
  std::uint64_t size;
};

// The dtypes torchtrain reads and writes, in the reference implementation's order of increasing
// alignment, which is how it orders tensors in a file (largest alignment first).
inline constexpr std::array<SafetensorsDtype, 10> safetensors_dtypes{{
    {"BOOL", torch::kBool, 1},
    {"U8", torch::kUInt8, 1},
    {"I8", torch::kInt8, 1},
    {"I16", torch::kInt16, 2},
    {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2},
    {"I32", torch::kInt32, 4},
    {"F32", torch::kFloat32, 4},
    {"F64", torch::kFloat64, 8},
    {"I64", torch::kInt64, 8},
}};
inline constexpr std::string_view safetensors_dtype_list = "F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL";

// The reference implementation refuses larger headers; so do we, before reading one.
inline constexpr std::uint64_t max_safetensors_header = 100'000'000;
// A valid header nests three deep (header, entry, shape); the limit stops a hostile header
// of a hundred million '[' from taking gigabytes to parse.
inline constexpr int max_safetensors_nesting = 16;

// The bytes of a file before the tensor data, and the tensors as they will follow.
struct PreparedSafetensors {
  std::string header;
  std::vector<torch::Tensor> tensors;  // on the CPU, contiguous, in file order
};

inline PreparedSafetensors prepare_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                                               const SafetensorsMetadata& metadata) {
  auto refuse = [&](std::string_view why) {
    return FileError(fmt::format("cannot write '{}': {}", path.string(), why));
  };
  struct Entry {
    std::string_view name;
    std::size_t dtype;  // index in safetensors_dtypes
    torch::Tensor data;
  };
  std::vector<Entry> entries;
  std::set<std::string_view> names;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__")
      throw refuse("a tensor is named '__metadata__', the name safetensors keeps for metadata; rename it");
    if (!names.insert(name).second) throw refuse(fmt::format("two tensors are named '{}'; rename one", name));
    if (!tensor.defined()) throw refuse(fmt::format("tensor '{}' is undefined; give it a value", name));
    if (tensor.layout() != torch::kStrided)
      throw refuse(fmt::format("tensor '{}' is not dense; convert it with .to_dense()", name));
    auto dtype = std::find_if(safetensors_dtypes.begin(), safetensors_dtypes.end(),
                              [&tensor = tensor](const SafetensorsDtype& known) { return known.type == tensor.scalar_type(); });
    if (dtype == safetensors_dtypes.end())
      throw refuse(fmt::format("tensor '{}' has dtype {}; convert it to one of {}", name,
                               c10::toString(tensor.scalar_type()), safetensors_dtype_list));
    entries.push_back({name, static_cast<std::size_t>(dtype - safetensors_dtypes.begin()),
                       tensor.to(torch::kCPU).contiguous()});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.dtype != b.dtype ? a.dtype > b.dtype : a.name < b.name;
  });

  // ordered_json keeps the file order in the header, as the reference writer does.
  auto json = nlohmann::ordered_json::object();
  if (!metadata.empty()) json["__metadata__"] = metadata;
  PreparedSafetensors prepared;
  std::uint64_t offset = 0;
  for (auto& entry : entries) {
    auto end = offset + entry.data.nbytes();
    json[std::string(entry.name)] = {{"dtype", safetensors_dtypes[entry.dtype].name},
                                     {"shape", entry.data.sizes().vec()},
                                     {"data_offsets", nlohmann::ordered_json::array({offset, end})}};
    offset = end;
    prepared.tensors.push_back(std::move(entry.data));
  }
  std::string text;
  try {
    text = json.dump();
  } catch (const nlohmann::ordered_json::type_error&) {
    throw refuse("a tensor name or metadata string is not valid UTF-8; use UTF-8 text");
  }
  // Spaces up to a multiple of 8 bytes keep the data aligned for readers that map the file.
  text.append((8 - text.size() % 8) % 8, ' ');
  prepared.header.resize(8);
  for (std::size_t i = 0; i < 8; ++i) prepared.header[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  prepared.header += text;
  return prepared;
}

inline void write_prepared(FileWriter& file, const PreparedSafetensors& prepared) {
  file.write(prepared.header);
  for (const auto& tensor : prepared.tensors) file.write(tensor.data_ptr(), tensor.nbytes());
}

[[noreturn]] inline void reject_safetensors(const std::filesystem::path& path, std::string_view problem) {
  throw FileError(fmt::format("cannot load '{}': {}; the file is truncated, damaged or not a safetensors file",
                              path.string(), problem));
}

// A JSON value as a message quotes it: short, whatever the file holds.
inline std::string quote(const nlohmann::json& value) {
  auto text = value.dump();
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

struct SafetensorsEntry {
  std::string name;
  const SafetensorsDtype* dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;  // offsets in the data, which starts after the header
  std::uint64_t end;
};

struct SafetensorsHeader {
  SafetensorsMetadata metadata;
  std::vector<SafetensorsEntry> entries;  // in the order of their data
  std::uint64_t data_start = 0;           // in the file
};

inline bool is_non_negative_int64(const nlohmann::json& value) {
  return value.is_number_unsigned() &&
         value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

inline SafetensorsEntry parse_safetensors_entry(const std::filesystem::path& path, const std::string& name,
                                                const nlohmann::json& value, std::uint64_t data_size) {
  auto reject = [&](std::string_view problem) {
    reject_safetensors(path, fmt::format("tensor '{}' {}", torchtrain::detail::printable(name), problem));
  };
  if (!value.is_object()) reject(fmt::format("is described by {}, not by an object", quote(value)));
  auto field = [&](const char* key) -> const nlohmann::json& {
    auto found = value.find(key);
    if (found == value.end()) reject(fmt::format("has no \"{}\"", key));
    return *found;
  };
  const auto& dtype_name = field("dtype");
  if (!dtype_name.is_string()) reject(fmt::format("has dtype {}, not a string", quote(dtype_name)));
  auto dtype = std::find_if(safetensors_dtypes.begin(), safetensors_dtypes.end(), [&](const SafetensorsDtype& known) {
    return known.name == dtype_name.get_ref<const std::string&>();
  });
  if (dtype == safetensors_dtypes.end())
    reject(fmt::format("has dtype {}, not one torchtrain reads ({})", quote(dtype_name), safetensors_dtype_list));

  const auto& shape = field("shape");
  if (!shape.is_array() || !std::all_of(shape.begin(), shape.end(), is_non_negative_int64))
    reject(fmt::format("has shape {}, not a list of non-negative integers", quote(shape)));
  std::uint64_t bytes = dtype->size;
  // LibTorch's strides multiply the extents with an empty one counted as 1: [0, 2^62, 4]
  // holds no byte, yet no tensor can have that shape.
  std::uint64_t strides = 1;
  for (const auto& extent : shape) {
    if (__builtin_mul_overflow(bytes, extent.get<std::uint64_t>(), &bytes))
      reject(fmt::format("has shape {}, more bytes than any file holds", quote(shape)));
    if (__builtin_mul_overflow(strides, std::max<std::uint64_t>(extent.get<std::uint64_t>(), 1), &strides) ||
        strides > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      reject(fmt::format("has shape {}, larger than any tensor can be", quote(shape)));
  }

  const auto& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    reject(fmt::format("has data_offsets {}, not a pair of non-negative integers", quote(offsets)));
  auto begin = offsets[0].get<std::uint64_t>();
  auto end = offsets[1].get<std::uint64_t>();
  if (begin > end || end > data_size)
    reject(fmt::format("has data_offsets [{}, {}], not a range within the {} bytes of data", begin, end, data_size));
  if (end - begin != bytes)
    reject(fmt::format("of dtype {} and shape {} needs {} bytes, but its data_offsets [{}, {}] hold {}", dtype->name,
                       quote(shape), bytes, begin, end, end - begin));
  return {name, &*dtype, shape.get<std::vector<std::int64_t>>(), begin, end};
}

// Reads and checks the header against the file's `bytes`: the tensors must cover the data
// exactly, each where its dtype and shape say, with no gap, overlap or trailing byte.
inline SafetensorsHeader read_safetensors_header(const std::filesystem::path& path, std::string_view bytes) {
  if (bytes.size() < 8)
    reject_safetensors(path, fmt::format("it is {} bytes long, too short for the 8-byte header length", bytes.size()));
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | static_cast<unsigned char>(bytes[i]);
  if (length > bytes.size() - 8)
    reject_safetensors(path, fmt::format("its header is {} bytes long, but only {} bytes follow the header length",
                                         length, bytes.size() - 8));
  if (length > max_safetensors_header)
    reject_safetensors(path, fmt::format("its header is {} bytes long, more than the format allows ({})", length,
                                         max_safetensors_header));
  const auto text = bytes.substr(8, length);

  struct HeaderProblem : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  nlohmann::json json;
  try {
    json = torchtrain::detail::parse_json<HeaderProblem>(text, "its header", max_safetensors_nesting);
  } catch (const HeaderProblem& problem) {
    reject_safetensors(path, torchtrain::detail::printable(problem.what(), 300));  // nlohmann quotes the bytes it read
  }
  if (!json.is_object()) reject_safetensors(path, fmt::format("its header is a JSON {}, not an object", json.type_name()));

  SafetensorsHeader header;
  header.data_start = 8 + length;
  const auto data_size = bytes.size() - header.data_start;
  for (const auto& [name, value] : json.items()) {
    if (name != "__metadata__") {
      header.entries.push_back(parse_safetensors_entry(path, name, value, data_size));
      continue;
    }
    if (!value.is_object()) reject_safetensors(path, fmt::format("its __metadata__ is {}, not an object", quote(value)));
    for (const auto& [key, text_value] : value.items()) {
      if (!text_value.is_string())
        reject_safetensors(path, fmt::format("its __metadata__ '{}' is {}, not a string", torchtrain::detail::printable(key), quote(text_value)));
      header.metadata.emplace(key, text_value.get<std::string>());
    }
  }

  // The reference reader accepts tensors described in any order; their data must tile.
  auto& entries = header.entries;
  std::sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  std::uint64_t covered = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].begin > covered)
      reject_safetensors(path, fmt::format("bytes {} to {} of the data belong to no tensor", covered, entries[i].begin));
    if (entries[i].begin < covered)
      reject_safetensors(path, fmt::format("the data of tensors '{}' and '{}' overlap", torchtrain::detail::printable(entries[i - 1].name),
                                           torchtrain::detail::printable(entries[i].name)));
    covered = entries[i].end;
  }
  if (covered != data_size)
    reject_safetensors(path, fmt::format("the last {} bytes of the data belong to no tensor", data_size - covered));
  return header;
}

}  // namespace detail

TORCHTRAIN_INLINE void save_safetensors(FileWriter& file, const NamedTensors& tensors,
                                        const SafetensorsMetadata& metadata) {
  detail::write_prepared(file, detail::prepare_safetensors(file.path(), tensors, metadata));
}

TORCHTRAIN_INLINE void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                                        const SafetensorsMetadata& metadata) {
  auto prepared = detail::prepare_safetensors(path, tensors, metadata);
  FileWriter file(path);
  detail::write_prepared(file, prepared);
  file.finish();
}

TORCHTRAIN_INLINE NamedTensors load_safetensors(const std::filesystem::path& path, FileChecksum* checksum) {
  const auto bytes = SharedBytes::map_file(path, checksum);
  const auto header = detail::read_safetensors_header(path, bytes.view());
  NamedTensors tensors;
  tensors.reserve(header.entries.size());
  for (const auto& entry : header.entries) {  // in the order of their data, which tiles the rest of the file
    const auto options = torch::TensorOptions().dtype(entry.dtype->type);
    const auto* data = bytes.data() + header.data_start + entry.begin;
    const auto size = static_cast<std::size_t>(entry.end - entry.begin);
    torch::Tensor tensor;
    if (reinterpret_cast<std::uintptr_t>(data) % entry.dtype->size == 0) {  // where the file has it
      tensor = torch::from_blob(const_cast<char*>(data), entry.shape, [owner = bytes.owner()](void*) {}, options);
    } else {  // a writer that did not align the data: LibTorch's kernels expect aligned elements
      tensor = torch::empty(entry.shape, options);
      std::memcpy(tensor.data_ptr(), data, size);
    }
    if (entry.dtype->type == torch::kBool) {
      const auto* flags = reinterpret_cast<const unsigned char*>(data);
      if (std::any_of(flags, flags + size, [](unsigned char byte) { return byte > 1; }))
        detail::reject_safetensors(path, fmt::format("tensor '{}' of dtype BOOL holds a byte other than 0 and 1",
                                                     entry.name));
    }
    tensors.emplace_back(entry.name, std::move(tensor));
  }
  return tensors;
}

TORCHTRAIN_INLINE SafetensorsMetadata read_safetensors_metadata(const std::filesystem::path& path) {
  return detail::read_safetensors_header(path, SharedBytes::map_file(path).view()).metadata;
}

}  // namespace torchtrain::io

#endif  // TORCHTRAIN_DEFINITIONS

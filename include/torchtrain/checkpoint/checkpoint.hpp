// Checkpoint: what a checkpoint folder holds, written so that it appears only when complete.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/types.h>

#include <torchtrain/checkpoint/checkpoint_folders.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/shared_bytes.hpp>

namespace torchtrain {

/// The contents of a checkpoint, in memory: what a checkpointer writes and what a resume
/// reads. The file names and formats are the Python Trainer's: optimizer.pt, scheduler.pt,
/// scaler.pt and rng_state.pth are `torch.save` files of Python's state dicts, which the
/// Python Trainer resumes from (an optimizer of the user's own type is saved as its LibTorch
/// archive, which only C++ reads). loop_state.pt is torchtrain's own LibTorch archive.
struct Checkpoint {
  static constexpr const char* model_file = "model.safetensors";
  static constexpr const char* training_args_file = "training_args.json";
  static constexpr const char* trainer_state_file = "trainer_state.json";
  static constexpr const char* optimizer_file = "optimizer.pt";
  static constexpr const char* scheduler_file = "scheduler.pt";
  static constexpr const char* scaler_file = "scaler.pt";
  static constexpr const char* rng_state_file = "rng_state.pth";  // of a run of one process
  static constexpr const char* loop_state_file = "loop_state.pt";
  static constexpr const char* training_plot_file = "training_plot.svg";  // a picture of log_history
  /// Written by the Python Trainer in place of our training_args.json (a pickled object).
  static constexpr const char* python_training_args_file = "training_args.bin";
  /// Written last: the size and CRC-32 of every other file, so a damaged file is named.
  static constexpr const char* manifest_file = "checkpoint_manifest.json";

  std::vector<std::pair<std::string, torch::Tensor>> model;  // the model's state dict
  std::string training_args;                                  // JSON text
  std::string trainer_state;                                  // JSON text
  // Empty with --save_only_model; scaler also without loss scaling. Read from a checkpoint,
  // optimizer.pt's mapped pages, which the optimizer's state is copied out of.
  io::SharedBytes optimizer;
  /// In place of `optimizer` when it holds the bytes of a torch.save of this value (the
  /// optimizer's state as Python's state dict, optim::python_state_dict): write_checkpoint
  /// then writes optimizer.pt straight from the tensors, on the thread that writes (the
  /// background thread of an AsyncCheckpoint, which copies the tensors first).
  std::optional<c10::IValue> optimizer_state;
  std::string scheduler;
  std::string scaler;
  // Each process's random state by file name: rng_state_file for a run of one process,
  // rng_state_<rank>.pth for each process of a distributed run (Python's names).
  std::map<std::string, std::string> rng_states;
  // The optimizer's state of a sharded run (FSDP), one file per process by file name
  // (optimizer_shard_<rank>.pt), in place of optimizer.pt: each is Python's state dict of
  // that rank's shards.
  std::map<std::string, std::string> optimizer_shards;
  // Files that the processes wrote themselves, in parallel, into `staging_folder` (see
  // staging_folder_for), by name, with the size and CRC each process found as it wrote:
  // write_checkpoint moves them into the checkpoint and lists them in the manifest.
  std::filesystem::path staging_folder;
  std::map<std::string, io::FileChecksum> staged_files;
  std::string loop_state;  // torchtrain's own: the loss since the last log (a LibTorch archive)
  std::string training_plot;  // SVG text
  /// Read from a checkpoint of the Python Trainer: no file was checked (it writes no
  /// checksums), there is no loop_state, and the random states are Python's, which
  /// LibTorch cannot read.
  bool from_python = false;


  /// The file of process `rank`'s random state in a run of `world_size` processes.
  static std::string rng_state_file_name(int rank, int world_size);
  static bool is_rng_state_file(std::string_view name) {
    return name == rng_state_file || is_rank_file(name, "rng_state_", ".pth");
  }
  /// The file of process `rank`'s optimizer shard.
  static std::string optimizer_shard_file_name(int rank);
  static bool is_optimizer_shard_file(std::string_view name) { return is_rank_file(name, "optimizer_shard_", ".pt"); }
  /// Where the processes write their own files of the checkpoint bound for `folder`
  /// (`tmp-<name>-staged` beside it) before write_checkpoint moves them in.
  static std::filesystem::path staging_folder_for(const std::filesystem::path& folder);
  /// True for `<prefix><rank><suffix>`.
  static bool is_rank_file(std::string_view name, std::string_view prefix, std::string_view suffix);

  /// The small byte files with fixed names (all but the model, the optimizer and the random
  /// states).
  template <class Self, class Visit>
  static void for_each_file(Self& self, Visit&& visit) {
    const std::pair<const char*, decltype(&self.scheduler)> files[] = {
        {training_args_file, &self.training_args}, {trainer_state_file, &self.trainer_state},
        {scheduler_file, &self.scheduler},         {scaler_file, &self.scaler},
        {loop_state_file, &self.loop_state},       {training_plot_file, &self.training_plot}};
    for (auto& [name, bytes] : files) visit(name, *bytes);
  }
};

/// Writes `checkpoint` into `folder`: first into `tmp-<name>` beside it, each file
/// fsynced (the staged files moved in), the manifest last, then renamed into place, so the
/// folder appears only when complete (an existing folder of that name is replaced). On any
/// error the temporary and staging folders are removed and earlier checkpoints are
/// untouched; the FileError names the file.
TORCHTRAIN_INLINE void write_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& folder);

/// Where a save goes, what rotation after it must keep, and when the checkpoint's tensors
/// may change.
struct SaveRequest {
  std::filesystem::path folder;                      // output_dir/checkpoint-<step>
  std::optional<int> save_total_limit;               // from the arguments
  std::optional<std::string> best_model_checkpoint;  // never deleted by rotation
  /// For a checkpointer that copies the tensors to write them later (AsyncCheckpoint). When
  /// true, the caller changes none of the checkpoint's tensors, but the model's tensors
  /// named in `model_buffers`, until it has called the checkpointer's wait_for_copy(): the
  /// copy may run beside the next step's forward and backward (the Trainer calls it before
  /// the optimizer's step). When false, save() has copied them all when it returns.
  bool copy_beside_training = false;
  /// Names in Checkpoint::model of tensors that change before the next optimizer step
  /// (the model's buffers, such as BatchNorm's running statistics, which forward updates).
  std::vector<std::string> model_buffers;
};

/// Writes the checkpoint, then deletes the oldest beyond the limit (never the best).
TORCHTRAIN_INLINE void save_checkpoint(const Checkpoint& checkpoint, const SaveRequest& request);

/// True when `folder` is a checkpoint of the Python Trainer: its training_args.bin and
/// trainer_state.json (which Python writes last), and no manifest of ours.
TORCHTRAIN_INLINE bool is_python_checkpoint(const std::filesystem::path& folder);

/// True when `folder` holds a manifest, which is written last, or is a Python Trainer's
/// checkpoint: a complete checkpoint.
TORCHTRAIN_INLINE bool is_complete_checkpoint(const std::filesystem::path& folder);

/// The complete checkpoint with the largest step in output_dir (what
/// `resume_from_checkpoint = true` takes); nullopt when there is none.
TORCHTRAIN_INLINE std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir);

/// Reads a checkpoint folder, checking every file against the manifest; a Python Trainer's
/// checkpoint (is_python_checkpoint) is read as it is. `model_only` reads the weights and
/// the trainer state alone. FileError names the folder or file that is missing,
/// incomplete or damaged.
TORCHTRAIN_INLINE Checkpoint read_checkpoint(const std::filesystem::path& folder, bool model_only = false);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstdint>
#include <exception>
#include <future>
#include <limits>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/safetensors.hpp>
#include <torchtrain/io/torch_save_file.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE std::string Checkpoint::rng_state_file_name(int rank, int world_size) {
  return world_size == 1 ? rng_state_file : fmt::format("rng_state_{}.pth", rank);
}

TORCHTRAIN_INLINE std::string Checkpoint::optimizer_shard_file_name(int rank) {
  return fmt::format("optimizer_shard_{}.pt", rank);
}

TORCHTRAIN_INLINE std::filesystem::path Checkpoint::staging_folder_for(const std::filesystem::path& folder) {
  const auto parent = folder.parent_path().empty() ? std::filesystem::path(".") : folder.parent_path();
  return parent / ("tmp-" + folder.filename().string() + "-staged");
}

TORCHTRAIN_INLINE bool Checkpoint::is_rank_file(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (!name.starts_with(prefix) || !name.ends_with(suffix) || name.size() == prefix.size() + suffix.size())
    return false;
  const auto rank = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return std::all_of(rank.begin(), rank.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TORCHTRAIN_INLINE void write_checkpoint(const Checkpoint& checkpoint, const std::filesystem::path& folder) {
  const auto parent = folder.parent_path().empty() ? std::filesystem::path(".") : folder.parent_path();
  const auto temporary = parent / ("tmp-" + folder.filename().string());
  std::error_code error;
  const auto remove_staging = [&] {
    if (!checkpoint.staging_folder.empty()) std::filesystem::remove_all(checkpoint.staging_folder, error);
  };
  std::filesystem::remove_all(temporary, error);  // left by a save that was killed
  std::filesystem::create_directories(temporary, error);
  if (error) {
    const auto why = error.message();  // before remove_staging reuses `error`
    remove_staging();
    throw FileError(fmt::format("cannot create '{}': {}; choose a writable --output_dir", temporary.string(), why));
  }
  try {
    nlohmann::json manifest = nlohmann::json::object();
    const auto record = [&](const char* name, const io::FileChecksum& written) {
      manifest[name] = {{"size", written.size}, {"crc32", written.crc32}};
    };
    // The weights are written by a second thread while this one writes the rest: a disk
    // takes more than one stream of writes and fsyncs, and checksums need a core.
    auto model_written = std::async(std::launch::async, [&] {
      io::FileWriter model(temporary / Checkpoint::model_file);
      io::save_safetensors(model, checkpoint.model);
      return model.finish();
    });
    const auto join_model = [&] { return model_written.valid() ? model_written.get() : io::FileChecksum{}; };
    try {
      if (checkpoint.optimizer_state) {
        io::FileWriter optimizer(temporary / Checkpoint::optimizer_file);
        io::write_torch_save(optimizer, *checkpoint.optimizer_state);
        record(Checkpoint::optimizer_file, optimizer.finish());
      } else if (!checkpoint.optimizer.empty()) {
        record(Checkpoint::optimizer_file, io::write_file(temporary / Checkpoint::optimizer_file,
                                                          checkpoint.optimizer.view()));
      }
      Checkpoint::for_each_file(checkpoint, [&](const char* name, const std::string& bytes) {
        if (!bytes.empty()) record(name, io::write_file(temporary / name, bytes));
      });
    } catch (...) {
      // The folder is removed below: not while the thread still writes into it.
      if (model_written.valid()) model_written.wait();
      throw;
    }
    record(Checkpoint::model_file, join_model());
    for (const auto* files : {&checkpoint.rng_states, &checkpoint.optimizer_shards})
      for (const auto& [name, bytes] : *files) record(name.c_str(), io::write_file(temporary / name, bytes));
    for (const auto& [name, written] : checkpoint.staged_files) {
      std::filesystem::rename(checkpoint.staging_folder / name, temporary / name, error);
      if (error)
        throw FileError(fmt::format("cannot move '{}' into the checkpoint: {}; its process wrote it there moments "
                                    "ago, so something removed it: save again",
                                    (checkpoint.staging_folder / name).string(), error.message()));
      record(name.c_str(), written);
    }
    io::write_file(temporary / Checkpoint::manifest_file, manifest.dump(2) + "\n");
    if (std::filesystem::exists(folder)) {  // the same step saved again: the new one wins
      const auto replaced = parent / ("replaced-" + folder.filename().string());
      std::filesystem::remove_all(replaced, error);
      std::filesystem::rename(folder, replaced);
      io::publish_directory(temporary, folder);
      std::filesystem::remove_all(replaced, error);
    } else {
      io::publish_directory(temporary, folder);
    }
    remove_staging();
  } catch (...) {
    std::filesystem::remove_all(temporary, error);
    remove_staging();
    throw;
  }
}

TORCHTRAIN_INLINE void save_checkpoint(const Checkpoint& checkpoint, const SaveRequest& request) {
  write_checkpoint(checkpoint, request.folder);
  rotate_checkpoints(request.folder.parent_path(), request.save_total_limit, request.best_model_checkpoint);
}

TORCHTRAIN_INLINE bool is_python_checkpoint(const std::filesystem::path& folder) {
  std::error_code error;
  return !std::filesystem::exists(folder / Checkpoint::manifest_file, error) &&
         std::filesystem::is_regular_file(folder / Checkpoint::python_training_args_file, error) &&
         std::filesystem::is_regular_file(folder / Checkpoint::trainer_state_file, error);
}

TORCHTRAIN_INLINE bool is_complete_checkpoint(const std::filesystem::path& folder) {
  std::error_code error;
  return std::filesystem::is_regular_file(folder / Checkpoint::manifest_file, error) || is_python_checkpoint(folder);
}

TORCHTRAIN_INLINE std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir) {
  auto folders = sorted_checkpoints(output_dir);
  for (auto it = folders.rbegin(); it != folders.rend(); ++it)
    if (is_complete_checkpoint(*it)) return *it;
  return std::nullopt;
}

namespace detail {

// Checks what was found of a file of a checkpoint against the manifest's size and CRC-32.
inline void check_file(const std::filesystem::path& file, const io::FileChecksum& found,
                       const nlohmann::json& expected) {
  const auto size = expected.at("size").get<std::uint64_t>();
  if (found.size != size)
    throw FileError(fmt::format("'{}' has {} bytes, but the checkpoint was written with {}: the file is truncated "
                                "or was replaced; resume from an earlier checkpoint",
                                file.string(), found.size, size));
  if (found.crc32 != expected.at("crc32").get<std::uint32_t>())
    throw FileError(fmt::format("'{}' does not match the checksum written with it: the file was edited or is "
                                "damaged; resume from an earlier checkpoint",
                                file.string()));
}

// Checks a file of a checkpoint against the manifest, reading it for that alone.
inline void verify_file(const std::filesystem::path& file, const nlohmann::json& expected) {
  check_file(file, io::checksum_file(file), expected);
}

// A file of a checkpoint, read once: its bytes are checked as they are kept. Empty bytes
// mean "not saved" to the readers (a --save_only_model checkpoint has no optimizer.pt): a
// listed file that is empty was damaged before its checksum was taken.
template <class Bytes>
Bytes refuse_empty(Bytes bytes, const std::filesystem::path& file) {
  if (bytes.empty())
    throw FileError(fmt::format("'{}' is empty, though the checkpoint lists it: its save was damaged; resume from "
                                "another checkpoint",
                                file.string()));
  return bytes;
}

inline std::string read_verified_file(const std::filesystem::path& file, const nlohmann::json& expected) {
  io::FileChecksum found;
  auto bytes = io::read_file(file, found);
  check_file(file, found, expected);
  return refuse_empty(std::move(bytes), file);
}

// A large file of a checkpoint, mapped (not copied into new memory) and checked.
inline io::SharedBytes map_verified_file(const std::filesystem::path& file, const nlohmann::json& expected) {
  io::FileChecksum found;
  auto bytes = io::SharedBytes::map_file(file, &found);
  check_file(file, found, expected);
  return refuse_empty(std::move(bytes), file);
}

// The weights, read once and checked as they are read. A file the reader rejects is
// checked against the manifest first, so that damage is reported as damage.
inline io::NamedTensors read_verified_weights(const std::filesystem::path& file, const nlohmann::json& expected) {
  io::FileChecksum found;
  io::NamedTensors tensors;
  try {
    tensors = io::load_safetensors(file, &found);
  } catch (const FileError&) {
    verify_file(file, expected);
    throw;
  }
  check_file(file, found, expected);
  return tensors;
}

}  // namespace detail

namespace detail {

// A checkpoint of the Python Trainer: the same files, none checked (it writes no checksums).
inline Checkpoint read_python_checkpoint(const std::filesystem::path& folder, bool model_only) {
  Checkpoint checkpoint;
  checkpoint.from_python = true;
  const auto model_path = folder / Checkpoint::model_file;
  if (!std::filesystem::is_regular_file(model_path))
    throw FileError(fmt::format("'{}' holds no {}: the Python run saved its weights in another format; save "
                                "with safe_serialization (the default) to resume from it here",
                                folder.string(), Checkpoint::model_file));
  checkpoint.model = io::load_safetensors(model_path);
  Checkpoint::for_each_file(checkpoint, [&](const char* name, std::string& bytes) {
    const bool wanted = !model_only || name == std::string_view(Checkpoint::trainer_state_file);
    if (wanted && std::filesystem::is_regular_file(folder / name)) bytes = io::read_file(folder / name);
  });
  if (const auto optimizer = folder / Checkpoint::optimizer_file; !model_only && std::filesystem::is_regular_file(optimizer))
    checkpoint.optimizer = io::SharedBytes::map_file(optimizer);
  if (!model_only)
    for (const auto& entry : std::filesystem::directory_iterator(folder))
      if (const auto name = entry.path().filename().string(); Checkpoint::is_rng_state_file(name))
        checkpoint.rng_states[name] = io::read_file(entry.path());
  return checkpoint;
}

}  // namespace detail

TORCHTRAIN_INLINE Checkpoint read_checkpoint(const std::filesystem::path& folder, bool model_only) {
  if (std::error_code error; std::filesystem::exists(folder, error) && !std::filesystem::is_directory(folder, error))
    throw FileError(fmt::format("cannot resume from '{}': it is a file, not a checkpoint folder; name a "
                                "checkpoint-<step> folder (or true for the latest in --output_dir)",
                                folder.string()));
  if (!std::filesystem::is_directory(folder))
    throw FileError(fmt::format("cannot resume from '{}': no such checkpoint folder", folder.string()));
  if (is_python_checkpoint(folder)) return detail::read_python_checkpoint(folder, model_only);
  if (!is_complete_checkpoint(folder))
    throw FileError(fmt::format("'{}' is not a complete torchtrain checkpoint ({} is missing): its save was "
                                "interrupted, or another program wrote it; resume from another checkpoint",
                                folder.string(), Checkpoint::manifest_file));
  const auto manifest_path = folder / Checkpoint::manifest_file;
  nlohmann::json manifest;
  manifest = detail::parse_json<FileError>(io::read_file(manifest_path), manifest_path.string());
  if (!manifest.is_object())
    throw FileError(fmt::format("'{}' holds a JSON {}, not an object: the file was edited or is damaged; resume from "
                                "another checkpoint",
                                manifest_path.string(), manifest.type_name()));
  // get<std::uint64_t>() would take -1 as 2^64 - 1: each count must be a JSON unsigned integer.
  const auto whole = [](const nlohmann::json& entry, const char* key, std::uint64_t max) {
    const auto found = entry.find(key);
    return found != entry.end() && found->is_number_unsigned() && found->get<std::uint64_t>() <= max;
  };
  for (const auto& [name, entry] : manifest.items())
    if (!entry.is_object() || !whole(entry, "size", std::numeric_limits<std::uint64_t>::max()) ||
        !whole(entry, "crc32", std::numeric_limits<std::uint32_t>::max()))
      throw FileError(fmt::format("'{}': the entry of '{}' is {}, not {{\"size\": bytes, \"crc32\": checksum}} with "
                                  "whole numbers: the file was edited or is damaged; resume from another checkpoint",
                                  manifest_path.string(), torchtrain::detail::printable(name), torchtrain::detail::printable(entry.dump(), 60)));
  const auto expected = [&entries = std::as_const(manifest)](const char* name) -> const nlohmann::json* {
    const auto found = entries.find(name);
    return found != entries.end() ? &*found : nullptr;
  };
  if (!expected(Checkpoint::model_file) || !expected(Checkpoint::trainer_state_file))
    throw FileError(fmt::format("'{}' lists no {} or {}; the file was edited", manifest_path.string(),
                                Checkpoint::model_file, Checkpoint::trainer_state_file));

  Checkpoint checkpoint;
  // The weights are read and checked by a second thread while this one reads the rest: a
  // disk serves two streams faster than one, and each checksum needs a core.
  auto weights = std::async(std::launch::async, [model_path = folder / Checkpoint::model_file,
                                                 entry = expected(Checkpoint::model_file)] {
    return detail::read_verified_weights(model_path, *entry);
  });
  Checkpoint::for_each_file(checkpoint, [&](const char* name, std::string& bytes) {
    const bool wanted = !model_only || name == std::string_view(Checkpoint::trainer_state_file);
    if (const auto* entry = expected(name); entry && wanted) bytes = detail::read_verified_file(folder / name, *entry);
  });
  if (const auto* entry = expected(Checkpoint::optimizer_file); entry && !model_only)
    checkpoint.optimizer = detail::map_verified_file(folder / Checkpoint::optimizer_file, *entry);
  if (!model_only)
    for (const auto& [name, entry] : manifest.items()) {
      auto* files = Checkpoint::is_rng_state_file(name)          ? &checkpoint.rng_states
                    : Checkpoint::is_optimizer_shard_file(name) ? &checkpoint.optimizer_shards
                                                                 : nullptr;
      if (!files) continue;
      (*files)[name] = detail::read_verified_file(folder / name, entry);
    }
  checkpoint.model = weights.get();
  return checkpoint;
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

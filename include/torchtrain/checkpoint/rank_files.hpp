// Files of a checkpoint that every process holds one of (its optimizer shard): written by each process in parallel where all share the disk.
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain {

namespace detail {

// Rank 0 opens the staging folder afresh and marks it with a token no other save shares;
// empty when it cannot (the processes then send their files to rank 0 instead).
TORCHTRAIN_INLINE std::string open_staging_folder(const std::filesystem::path& staging);

// True when this process sees rank 0's staging folder: the same disk.
TORCHTRAIN_INLINE bool sees_staging_folder(const std::filesystem::path& staging, const std::string& token);

}  // namespace detail

/// Puts each process's file (`name`, `bytes`; a name per process) into the checkpoint bound
/// for `folder`, on the processes that save, as PyTorch's sharded checkpoints do: when
/// `in_parallel` (rank 0 alone saves) and every process sees rank 0's staging folder, each
/// writes its own file there at once and sends rank 0 only its size and CRC
/// (checkpoint.staged_files); a process on another disk sends its bytes instead
/// (`gathered`, by name). A collective: every process calls it. A process that cannot write
/// its file makes every process throw a FileError that names it; nothing else is lost.
template <class Strategy>
void save_rank_files(Strategy& strategy, const std::string& name, std::string bytes, const std::filesystem::path& folder,
                     bool saves, bool in_parallel, Checkpoint& checkpoint, std::map<std::string, std::string>& gathered) {
  const auto staging = Checkpoint::staging_folder_for(folder);
  std::string token;
  if (in_parallel && strategy.rank() == 0) token = detail::open_staging_folder(staging);
  token = strategy.gather_bytes(std::move(token)).front();
  // "<size> <crc32> <name>" once written, "!<why>" when writing failed, "" when the staging
  // folder is not on this process's disk.
  std::string report;
  if (detail::sees_staging_folder(staging, token)) {
    try {
      const auto written = io::write_file(staging / name, bytes);
      report = fmt::format("{} {} {}", written.size, written.crc32, name);
      bytes = {};
    } catch (const std::exception& error) {
      report = fmt::format("!{}", error.what());
    }
  }
  const auto reports = strategy.gather_bytes(report);
  const auto clean_up = [&] {
    std::error_code error;
    if (strategy.rank() == 0 && !token.empty()) std::filesystem::remove_all(staging, error);
  };
  for (std::size_t rank = 0; rank < reports.size(); ++rank)
    if (reports[rank].starts_with('!')) {
      clean_up();
      throw FileError(fmt::format("process {} could not write its file of checkpoint '{}': {}", rank, folder.string(),
                                  reports[rank].substr(1)));
    }
  bool everyone_wrote = true;
  for (const auto& each : reports) everyone_wrote = everyone_wrote && !each.empty();
  std::vector<std::string> sent;  // "<name>\n<bytes>" from the processes that wrote nothing
  if (!everyone_wrote) sent = strategy.gather_bytes(report.empty() ? name + '\n' + bytes : std::string());
  if (!saves) return;
  for (std::size_t rank = 0; rank < reports.size(); ++rank) {
    if (reports[rank].empty()) {
      const auto end_of_name = sent[rank].find('\n');
      gathered[sent[rank].substr(0, end_of_name)] = sent[rank].substr(end_of_name + 1);
      continue;
    }
    const auto& line = reports[rank];
    const auto first = line.find(' '), second = line.find(' ', first + 1);
    checkpoint.staged_files[line.substr(second + 1)] = {
        .size = std::stoull(line.substr(0, first)),
        .crc32 = static_cast<std::uint32_t>(std::stoul(line.substr(first + 1, second - first - 1)))};
  }
  if (checkpoint.staged_files.empty())
    clean_up();
  else
    checkpoint.staging_folder = staging;
}

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <random>

namespace torchtrain {

namespace detail {

inline constexpr const char* staging_token_file = "staging-token";

TORCHTRAIN_INLINE std::string open_staging_folder(const std::filesystem::path& staging) {
  std::error_code error;
  std::filesystem::remove_all(staging, error);  // left by a save that was killed
  std::filesystem::create_directories(staging, error);
  if (error) return {};
  std::random_device entropy;
  const auto token = fmt::format("{:08x}{:08x}{:08x}", entropy(), entropy(), entropy());
  try {
    io::write_file(staging / staging_token_file, token);
  } catch (const std::exception&) {
    return {};
  }
  return token;
}

TORCHTRAIN_INLINE bool sees_staging_folder(const std::filesystem::path& staging, const std::string& token) {
  std::error_code error;
  if (token.empty() || !std::filesystem::is_regular_file(staging / staging_token_file, error)) return false;
  try {
    return io::read_file(staging / staging_token_file) == token;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace detail

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

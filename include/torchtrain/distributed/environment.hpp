// Environment: who this process is in a distributed run, read from what the launcher set (torchrun, Slurm, Open MPI).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::distributed {

/// The place of this process in the run. A process that no launcher started has
/// rank 0 of world size 1 and no rendezvous address.
struct Environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;         // on this machine: picks the CUDA device
  int local_world_size = 1;   // processes on this machine
  std::string master_addr;    // where rank 0's store listens (empty for world size 1)
  std::uint16_t master_port = 0;
  std::string launcher = "none";  // "torchrun", "slurm", "openmpi" or "none": which variables were read
  /// torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT
  /// (TORCHELASTIC_USE_AGENT_STORE=True): rank 0 must connect to it, not open its own.
  bool use_agent_store = false;
  /// torchrun's restart attempt (TORCHELASTIC_RESTART_COUNT): the agent's store outlives an
  /// attempt, so each attempt keeps its keys apart, as PyTorch does.
  int restart_count = 0;

  bool distributed() const { return world_size > 1; }
};

/// Reads a variable; nullopt when unset or empty.
using GetEnv = std::function<std::optional<std::string>(std::string_view)>;

namespace detail {

/// The process's variable `name` (read_ranks' default GetEnv).
TORCHTRAIN_INLINE std::optional<std::string> process_getenv(std::string_view name);

}  // namespace detail

/// The ranks of this process from `getenv` (the process's variables by default). Launchers,
/// first match wins:
///   torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT;
///   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE;
///   Open MPI (mpirun): OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK,
///   OMPI_COMM_WORLD_LOCAL_SIZE.
/// Throws DistributedError naming the variable for a contract that is half set, a value
/// that is not a number, or a rank outside the world.
TORCHTRAIN_INLINE Environment read_ranks(const GetEnv& getenv = detail::process_getenv);

/// The launch's ranks (read_ranks) and, for several processes, where rank 0's store listens:
/// MASTER_ADDR and MASTER_PORT for all three launchers; under Slurm and Open MPI a run on
/// one machine defaults them to 127.0.0.1 and 29500 (torchrun's default port).
TORCHTRAIN_INLINE Environment read_environment(const GetEnv& getenv = detail::process_getenv);

/// The CUDA device of this rank: its local rank. NCCL needs one device per rank, so more
/// ranks on this machine than it has devices is an error that says what to change (PyTorch
/// would fail inside NCCL with "Duplicate GPU detected"). Gloo ranks may share a device.
TORCHTRAIN_INLINE int cuda_device_of(const Environment& env, int device_count, std::string_view backend);

}  // namespace torchtrain::distributed

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace torchtrain::distributed {

namespace detail {

TORCHTRAIN_INLINE std::optional<std::string> process_getenv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// A whole non-negative decimal number, or an error naming the variable and its value.
inline long parse_count(std::string_view name, const std::string& text, long max) {
  long value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0 || value > max)
    throw DistributedError(fmt::format("{}={} is not a number in [0, {}]; the launcher sets it, or set it by hand "
                                       "to a whole number",
                                       name, text, max));
  return value;
}

// The most processes (and restarts) a count may give.
inline constexpr long max_processes = 1 << 20;

// The variable names of one launcher's contract.
struct Contract {
  const char* launcher;
  const char* rank;
  const char* world_size;
  const char* local_rank;
  const char* local_world_size;
};

}  // namespace detail

TORCHTRAIN_INLINE Environment read_ranks(const GetEnv& getenv) {
  static constexpr detail::Contract contracts[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
      {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
      {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
  };
  Environment env;
  for (const auto& contract : contracts) {
    const auto rank = getenv(contract.rank);
    const auto world_size = getenv(contract.world_size);
    if (!rank && !world_size) continue;
    if (!rank || !world_size)
      throw DistributedError(fmt::format(
          "{} is set but {} is not: a {} launch sets both; set the missing one (or unset both to run as one process)",
          rank ? contract.rank : contract.world_size, rank ? contract.world_size : contract.rank, contract.launcher));
    env.launcher = contract.launcher;
    env.rank = static_cast<int>(detail::parse_count(contract.rank, *rank, detail::max_processes));
    env.world_size = static_cast<int>(detail::parse_count(contract.world_size, *world_size, detail::max_processes));
    if (env.world_size < 1)
      throw DistributedError(fmt::format("{}=0: a run has at least one process", contract.world_size));
    if (env.rank >= env.world_size)
      throw DistributedError(fmt::format("{}={} is not below {}={}: ranks count from 0 to the world size - 1",
                                         contract.rank, env.rank, contract.world_size, env.world_size));
    // Without a local rank the run is taken to be on one machine (local rank = rank).
    const auto local_rank = getenv(contract.local_rank);
    env.local_rank = local_rank ? static_cast<int>(detail::parse_count(contract.local_rank, *local_rank, detail::max_processes))
                                : env.rank;
    const auto local_size = getenv(contract.local_world_size);
    // Slurm writes SLURM_NTASKS_PER_NODE as "2(x3)" on uneven layouts: only its leading count matters here.
    std::string local_size_text = local_size.value_or("");
    if (const auto paren = local_size_text.find('('); paren != std::string::npos) local_size_text.resize(paren);
    env.local_world_size = local_size ? static_cast<int>(detail::parse_count(contract.local_world_size,
                                                                             local_size_text, detail::max_processes))
                                      : env.world_size;
    break;
  }
  return env;
}

TORCHTRAIN_INLINE Environment read_environment(const GetEnv& getenv) {
  Environment env = read_ranks(getenv);
  if (!env.distributed()) return env;

  const bool one_machine = env.local_world_size >= env.world_size;
  const bool defaults_allowed = env.launcher != std::string_view("torchrun") && one_machine;
  if (const auto addr = getenv("MASTER_ADDR"))
    env.master_addr = *addr;
  else if (defaults_allowed)
    env.master_addr = "127.0.0.1";
  else
    throw DistributedError(fmt::format("MASTER_ADDR is not set: a {}-process run ({} launch) meets at rank 0's "
                                       "address; set MASTER_ADDR to the host name or IP address of rank 0's machine",
                                       env.world_size, env.launcher));
  if (const auto port = getenv("MASTER_PORT"))
    env.master_port = static_cast<std::uint16_t>(detail::parse_count("MASTER_PORT", *port, 65535));
  else if (defaults_allowed)
    env.master_port = 29500;
  else
    throw DistributedError(fmt::format("MASTER_PORT is not set: a {}-process run ({} launch) meets at a TCP port "
                                       "of rank 0's machine; set MASTER_PORT to a free port, e.g. 29500",
                                       env.world_size, env.launcher));
  if (env.master_port == 0)
    throw DistributedError("MASTER_PORT=0: every rank must know the port in advance; set MASTER_PORT to a free "
                           "port, e.g. 29500");
  env.use_agent_store = getenv("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  if (const auto attempt = getenv("TORCHELASTIC_RESTART_COUNT"))
    env.restart_count = static_cast<int>(detail::parse_count("TORCHELASTIC_RESTART_COUNT", *attempt, detail::max_processes));
  return env;
}

TORCHTRAIN_INLINE int cuda_device_of(const Environment& env, int device_count, std::string_view backend) {
  if (device_count < 1) throw DistributedError("no CUDA device: run on the CPU (--use_cpu true)");
  if (backend == "nccl" && env.local_world_size > device_count)
    throw DistributedError(fmt::format(
        "{} ranks on this machine but {} CUDA device(s): NCCL needs a device for each rank; start at most {} "
        "(--nproc_per_node {}), or train on the CPU with --use_cpu true (Gloo)",
        env.local_world_size, device_count, device_count, device_count));
  return env.local_rank % device_count;
}

}  // namespace torchtrain::distributed

#endif  // TORCHTRAIN_DEFINITIONS

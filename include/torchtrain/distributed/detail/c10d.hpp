// c10d machinery: the rendezvous store and the collective backend (Gloo, or NCCL where LibTorch has it) of a process group.
#pragma once

#include <chrono>
#include <string_view>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/environment.hpp>

namespace torchtrain::distributed::detail {

/// Connects to the rank-0 store at MASTER_ADDR:MASTER_PORT (rank 0 serves it unless
/// torchrun's agent does); returns once every rank has joined, or throws after `timeout`.
/// In the agent's store, which outlives a restart, keys go under the attempt's prefix (as
/// PyTorch's, "/worker/attempt_<n>"): a restarted rank would otherwise meet the dead ranks' addresses.
TORCHTRAIN_INLINE c10::intrusive_ptr<c10d::Store> connect_store(const Environment& env,
                                                               std::chrono::milliseconds timeout);

/// The backend for `name` ("gloo" or "nccl") over `store`.
TORCHTRAIN_INLINE c10::intrusive_ptr<c10d::Backend> make_backend(std::string_view name,
                                                                const c10::intrusive_ptr<c10d::Store>& store,
                                                                const Environment& env,
                                                                std::chrono::milliseconds timeout);

}  // namespace torchtrain::distributed::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

// The backends' and stores' own headers: parsed only where these definitions are compiled.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <torchtrain/core/errors.hpp>

#if !defined(USE_C10D_GLOO)
#error "torchtrain's distributed code needs LibTorch's Gloo backend: link the imported `torch` target, which defines USE_C10D_GLOO"
#endif

namespace torchtrain::distributed::detail {

/// The message of the exception in flight, for wrapping it in a sentence of ours.
inline std::string current_exception_text() {
  try {
    throw;
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "unknown error";
  }
}

TORCHTRAIN_INLINE c10::intrusive_ptr<c10d::Store> connect_store(const Environment& env,
                                                               std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = env.master_port;
  options.isServer = env.rank == 0 && !env.use_agent_store;
  options.numWorkers = static_cast<std::size_t>(env.world_size);
  options.waitWorkers = false;  // the ranks count themselves in below, so a missing one is named
  options.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    if (env.use_agent_store)
      store = c10::make_intrusive<c10d::PrefixStore>(fmt::format("/worker/attempt_{}", env.restart_count), store);
  } catch (...) {
    throw DistributedError(fmt::format(
        "rank {} of {}: the ranks did not all meet at {}:{} within {} s ({}). Check that MASTER_ADDR and MASTER_PORT "
        "are the same for every rank, that rank 0 can listen on that port (not used by another run) and that the "
        "other ranks were started; --ddp_timeout sets how long to wait",
        env.rank, env.world_size, env.master_addr, env.master_port,
        std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), current_exception_text()));
  }
  // Each rank counts itself in; the last to arrive says all are here. A WORLD_SIZE larger
  // than the ranks started is then named as such, not found later inside a backend.
  constexpr const char* joined_key = "torchtrain/joined";
  constexpr const char* all_joined_key = "torchtrain/all_joined";
  if (store->add(joined_key, 1) == env.world_size) store->set(all_joined_key, std::vector<std::uint8_t>{1});
  try {
    store->wait({all_joined_key}, timeout);
  } catch (...) {
    const auto joined = store->add(joined_key, 0);
    throw DistributedError(fmt::format(
        "rank {} of {}: only {} of the {} ranks that WORLD_SIZE promises joined at {}:{} within {} s: start {} ranks "
        "in all (--nproc_per_node x --nnodes), or make WORLD_SIZE the number started; --ddp_timeout sets how long "
        "to wait",
        env.rank, env.world_size, joined, env.world_size, env.master_addr, env.master_port,
        std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), env.world_size));
  }
  return store;
}

/// The Gloo transport device: the interface GLOO_SOCKET_IFNAME names (as PyTorch reads
/// it), else the address this machine's host name resolves to (loopback if none).
inline std::shared_ptr<::gloo::transport::Device> gloo_device() {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface) {
    try {
      return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    } catch (...) {
      throw DistributedError(fmt::format("GLOO_SOCKET_IFNAME={} names no usable network interface ({}); set it to "
                                         "an interface of this machine (see `ip addr`) or unset it",
                                         interface, current_exception_text()));
    }
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

TORCHTRAIN_INLINE c10::intrusive_ptr<c10d::Backend> make_backend(std::string_view name,
                                                                const c10::intrusive_ptr<c10d::Store>& store,
                                                                const Environment& env,
                                                                std::chrono::milliseconds timeout) {
  if (name == "gloo") {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(gloo_device());
    options->threads = 2;  // as PyTorch: two per device, so that one slow collective does not stall the next
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  }
  if (name == "nccl") {
#if defined(USE_C10D_NCCL)
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
#else
    throw DistributedError("--ddp_backend nccl: this LibTorch was built without NCCL (no CUDA); use --ddp_backend "
                           "gloo, or build against a CUDA LibTorch");
#endif
  }
  throw DistributedError(fmt::format("--ddp_backend {}: torchtrain knows gloo (CPU) and nccl (CUDA)", name));
}

}  // namespace torchtrain::distributed::detail

#endif  // TORCHTRAIN_DEFINITIONS

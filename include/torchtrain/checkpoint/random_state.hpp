// The random state of a process (CPU and CUDA generators), saved with a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <torchtrain/core/config.hpp>

namespace torchtrain {

/// This process's random state as the Python Trainer's rng_state.pth holds it (a
/// `torch.save` dict, which Python's Trainer restores): "cpu", the default CPU generator;
/// "cuda", the first device's generator, or every device's in a `distributed` run; and
/// "python" and "numpy", the states `random.seed(seed)` and `numpy.random.seed(seed)` set.
/// Data order needs no state: it is a function of the seed and the epoch (data::RandomSampler).
TORCHTRAIN_INLINE std::string save_random_state(std::int64_t seed, bool distributed);

/// Restores the generators of what save_random_state wrote: CUDA states for the devices
/// both runs have. `file_name` names the file in errors. Python's own rng_state.pth is no
/// such file: LibTorch's unpickler cannot read the Python integers of 2^31 and above (which
/// Python pickles in 5 bytes) and the NumPy array it holds (FileError).
TORCHTRAIN_INLINE void load_random_state(const std::string& bytes, std::string_view file_name);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <mutex>
#include <vector>

#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/io/torch_pickle.hpp>

namespace torchtrain {

namespace detail {

// The default generator of a device; a Generator is a handle, so the copy is that generator.
inline at::Generator default_generator(c10::Device device) { return at::globalContext().defaultGenerator(device); }

inline torch::Tensor generator_state(c10::Device device) {
  auto generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

inline void set_generator_state(c10::Device device, const torch::Tensor& state) {
  auto generator = default_generator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

inline c10::Device cuda_device(std::int64_t index) {
  return {c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)};
}

/// The Mersenne Twister state that Python's `random.seed(seed)` (`init_by_array` of the
/// seed's 32-bit words) or NumPy's `numpy.random.seed(seed)` (`init_genrand`) sets: 624
/// words. torchtrain draws no Python or NumPy numbers; these are what a Python run that
/// drew none would save.
inline std::vector<std::int64_t> mersenne_twister_state(std::uint64_t seed, bool python) {
  constexpr int size = 624;
  std::vector<std::uint32_t> state(size);
  const auto init_genrand = [&](std::uint32_t value) {
    state[0] = value;
    for (int i = 1; i < size; ++i) state[i] = 1812433253u * (state[i - 1] ^ (state[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
  };
  if (!python) {
    init_genrand(static_cast<std::uint32_t>(seed));
  } else {
    std::vector<std::uint32_t> key{static_cast<std::uint32_t>(seed)};
    if (seed >> 32) key.push_back(static_cast<std::uint32_t>(seed >> 32));
    init_genrand(19650218u);
    int i = 1;
    std::size_t j = 0;
    for (int k = std::max<int>(size, static_cast<int>(key.size())); k > 0; --k) {
      state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<std::uint32_t>(j);
      if (++i >= size) state[0] = state[size - 1], i = 1;
      if (++j >= key.size()) j = 0;
    }
    for (int k = size - 1; k > 0; --k) {
      state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
      if (++i >= size) state[0] = state[size - 1], i = 1;
    }
    state[0] = 0x80000000u;
  }
  return {state.begin(), state.end()};
}

}  // namespace detail

TORCHTRAIN_INLINE std::string save_random_state(std::int64_t seed, bool distributed) {
  auto state = io::python_dict();
  auto python_words = io::python_list(detail::mersenne_twister_state(static_cast<std::uint64_t>(seed), true));
  python_words.push_back(std::int64_t{624});  // the position, as random.getstate() ends its tuple
  state.insert("python", c10::ivalue::Tuple::create(std::int64_t{3}, c10::ivalue::Tuple::create(python_words.vec()),
                                                    c10::IValue()));
  state.insert("numpy", c10::ivalue::Tuple::create({c10::IValue("MT19937"),
                                                    io::python_list(detail::mersenne_twister_state(static_cast<std::uint64_t>(seed), false)),
                                                    std::int64_t{624}, std::int64_t{0}, 0.0}));
  state.insert("cpu", detail::generator_state(c10::DeviceType::CPU));
  const auto devices = static_cast<std::int64_t>(torch::cuda::device_count());
  if (devices > 0 && !distributed) state.insert("cuda", detail::generator_state(detail::cuda_device(0)));
  if (devices > 0 && distributed) {
    auto all = io::python_list();
    for (std::int64_t device = 0; device < devices; ++device) all.push_back(detail::generator_state(detail::cuda_device(device)));
    state.insert("cuda", all);
  }
  return io::torch_save_bytes(state);
}

TORCHTRAIN_INLINE void load_random_state(const std::string& bytes, std::string_view file_name) {
  const auto saved = io::torch_load_bytes(bytes, file_name);
  try {
    const auto state = saved.toGenericDict();
    detail::set_generator_state(c10::DeviceType::CPU, io::value_at(state, "cpu").toTensor());
    const auto devices = static_cast<std::int64_t>(torch::cuda::device_count());
    if (!state.contains("cuda") || devices == 0) return;
    const auto cuda = state.at("cuda");
    if (cuda.isTensor()) return detail::set_generator_state(detail::cuda_device(0), cuda.toTensor());
    const auto all = cuda.toList();
    for (std::int64_t device = 0; device < std::min<std::int64_t>(devices, all.size()); ++device)
      detail::set_generator_state(detail::cuda_device(device), all.get(device).toTensor());
  } catch (const c10::Error& error) {
    throw FileError(fmt::format("cannot restore the random state from '{}': {}; it is damaged", file_name,
                                torchtrain::detail::libtorch_reason(error.what_without_backtrace())));
  }
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

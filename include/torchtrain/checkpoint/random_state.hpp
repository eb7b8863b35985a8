// The random state of a process (CPU and CUDA generators), saved with a checkpoint.
#pragma once

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <torchtrain/io/archive_bytes.hpp>

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

}  // namespace detail

/// The states of the default CPU generator and of every CUDA device's generator, as a
/// LibTorch archive (the Python Trainer's rng_state.pth holds the same generators, plus
/// Python's and NumPy's). Data order needs no state: it is a function of the seed and
/// the epoch (data::RandomSampler).
inline std::string save_random_state() {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", detail::generator_state(c10::DeviceType::CPU));
  const auto devices = static_cast<std::int64_t>(torch::cuda::device_count());
  archive.write("cuda_devices", c10::IValue(devices));
  for (std::int64_t device = 0; device < devices; ++device)
    archive.write(fmt::format("cuda_{}", device), detail::generator_state(detail::cuda_device(device)));
  return io::archive_bytes(archive);
}

/// Restores what save_random_state wrote. CUDA states are restored for the devices both
/// runs have; `file_name` names the file in errors.
inline void load_random_state(const std::string& bytes, std::string_view file_name) {
  io::read_archive(bytes, file_name, [](torch::serialize::InputArchive& archive) {
    torch::Tensor state;
    archive.read("cpu", state);
    detail::set_generator_state(c10::DeviceType::CPU, state);
    c10::IValue saved_devices;
    archive.read("cuda_devices", saved_devices);
    const auto devices = std::min<std::int64_t>(saved_devices.toInt(), torch::cuda::device_count());
    for (std::int64_t device = 0; device < devices; ++device) {
      archive.read(fmt::format("cuda_{}", device), state);
      detail::set_generator_state(detail::cuda_device(device), state);
    }
  });
}

}  // namespace torchtrain

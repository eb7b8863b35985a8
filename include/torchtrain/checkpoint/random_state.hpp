// The random state of a process (CPU and CUDA generators), saved with a checkpoint.
#pragma once

#include <string>
#include <string_view>

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <torchtrain/io/archive_bytes.hpp>

namespace torchtrain {

/// The states of the default CPU generator and of every CUDA device's generator, as a
/// LibTorch archive (the Python Trainer's rng_state.pth holds the same generators, plus
/// Python's and NumPy's). Data order needs no state: it is a function of the seed and
/// the epoch (data::RandomSampler).
inline std::string save_random_state() {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", at::globalContext().defaultGenerator(c10::DeviceType::CPU).get_state());
  const auto devices = torch::cuda::device_count();
  archive.write("cuda_devices", c10::IValue(static_cast<std::int64_t>(devices)));
  for (std::size_t device = 0; device < devices; ++device)
    archive.write(fmt::format("cuda_{}", device),
                  at::globalContext()
                      .defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device)))
                      .get_state());
  return io::archive_bytes(archive);
}

/// Restores what save_random_state wrote. CUDA states are restored for the devices both
/// runs have; `file_name` names the file in errors.
inline void load_random_state(const std::string& bytes, std::string_view file_name) {
  io::read_archive(bytes, file_name, [](torch::serialize::InputArchive& archive) {
    torch::Tensor state;
    archive.read("cpu", state);
    at::globalContext().defaultGenerator(c10::DeviceType::CPU).set_state(state);
    c10::IValue saved_devices;
    archive.read("cuda_devices", saved_devices);
    const auto devices = std::min<std::int64_t>(saved_devices.toInt(), torch::cuda::device_count());
    for (std::int64_t device = 0; device < devices; ++device) {
      archive.read(fmt::format("cuda_{}", device), state);
      at::globalContext()
          .defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device)))
          .set_state(state);
    }
  });
}

}  // namespace torchtrain

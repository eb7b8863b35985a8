// A module's state dict (parameters and buffers by dotted name), saved and loaded as safetensors.
#pragma once

#include <filesystem>
#include <string_view>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/copy_tensor.hpp>
#include <torchtrain/io/safetensors.hpp>

namespace torchtrain {

/// Tensors by name, in order: a module's state dict, or a safetensors file's contents.
using StateDict = io::NamedTensors;

/// The parameters and buffers of `module` by their dotted names, as PyTorch's
/// `state_dict()` names them. The tensors are the module's own (not copies).
TORCHTRAIN_INLINE StateDict state_dict(const torch::nn::Module& module);

/// Checks that `tensors` fit the module: every name matches both ways, with the same shape
/// and the same kind of dtype (a float of another width converts, with a warning that says
/// so); FileError names `source` and the tensor.
TORCHTRAIN_INLINE void check_state_dict(const torch::nn::Module& module, const StateDict& tensors, std::string_view source);

/// Copies `tensors` into the module's parameters and buffers of the same names, once
/// check_state_dict has found that they fit.
TORCHTRAIN_INLINE void load_state_dict(torch::nn::Module& module, const StateDict& tensors, std::string_view source);

/// Writes `tensors`, the weights of `module` (its state dict, or what a sharded strategy
/// gathered of it), to `folder/model.safetensors` (readable by Python's `safetensors`) and
/// a small `config.json` describing them, each file replaced atomically. Creates the folder.
TORCHTRAIN_INLINE void save_model(const torch::nn::Module& module, const StateDict& tensors,
                                  const std::filesystem::path& folder);

/// Writes `module`'s own weights (see above).
TORCHTRAIN_INLINE void save_model(const torch::nn::Module& module, const std::filesystem::path& folder);

/// Loads `folder/model.safetensors` (as written by save_model, a checkpoint, or Python's
/// `safetensors.torch.save_file`) into `module`; names and shapes must match.
TORCHTRAIN_INLINE void load_model(torch::nn::Module& module, const std::filesystem::path& folder);

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/version.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/durable_file.hpp>
#include <torchtrain/io/messages.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE StateDict state_dict(const torch::nn::Module& module) {
  StateDict tensors;
  for (const auto& item : module.named_parameters()) tensors.emplace_back(item.key(), item.value().detach());
  for (const auto& item : module.named_buffers()) tensors.emplace_back(item.key(), item.value().detach());
  return tensors;
}

TORCHTRAIN_INLINE void check_state_dict(const torch::nn::Module& module, const StateDict& tensors, std::string_view source) {
  std::unordered_map<std::string_view, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name.emplace(name, &tensor);
  auto targets = state_dict(module);
  std::string converted;  // the first tensor loaded into another float type
  int converted_count = 0;
  for (const auto& [name, target] : targets) {
    auto found = by_name.find(name);
    if (found == by_name.end())
      throw FileError(fmt::format("'{}' has no tensor '{}' that the model needs: it was saved from another model",
                                  source, name));
    if (found->second->sizes() != target.sizes())
      throw FileError(fmt::format("'{}' holds '{}' with shape [{}], but the model's has shape [{}]: it was saved from "
                                  "another model",
                                  source, name, fmt::join(found->second->sizes(), ", "),
                                  fmt::join(target.sizes(), ", ")));
    const auto saved = found->second->scalar_type(), wanted = target.scalar_type();
    if (saved != wanted) {
      // Integers or booleans where the model has floats (or the reverse) are not the model's
      // numbers at all (a dtype relabelled in the header); another float width converts.
      const auto kind = [](c10::ScalarType type) {
        return c10::isFloatingType(type) ? 0 : c10::isComplexType(type) ? 1 : type == c10::kBool ? 2 : 3;
      };
      if (kind(saved) != kind(wanted))
        throw FileError(fmt::format("'{}' holds '{}' as {}, but the model's is {}: it was saved from another model, "
                                    "or the file was edited",
                                    source, name, c10::toString(saved), c10::toString(wanted)));
      if (converted.empty()) converted = fmt::format("'{}' ({} in the file, {} in the model)", name,
                                                     c10::toString(saved), c10::toString(wanted));
      ++converted_count;
    }
    by_name.erase(found);
  }
  if (converted_count > 0)
    message(LogLevel::warning, "'{}' holds {} tensor(s) in another float type than the model's, first {}; they are "
            "converted to the model's as they load", source, converted_count, converted);
  if (!by_name.empty())
    throw FileError(fmt::format("'{}' holds '{}', which the model does not have: it was saved from another model",
                                source, by_name.begin()->first));
}

TORCHTRAIN_INLINE void load_state_dict(torch::nn::Module& module, const StateDict& tensors, std::string_view source) {
  check_state_dict(module, tensors, source);
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : state_dict(module))
    for (const auto& [saved_name, saved] : tensors)
      if (saved_name == name) io::copy_tensor(target, saved);
}

TORCHTRAIN_INLINE void save_model(const torch::nn::Module& module, const StateDict& tensors,
                                  const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  nlohmann::json shapes = nlohmann::json::object();
  std::int64_t num_parameters = 0;
  for (const auto& item : module.named_parameters()) num_parameters += item.value().numel();
  for (const auto& [name, tensor] : tensors) shapes[name] = tensor.sizes().vec();
  const nlohmann::json config = {{"architectures", {module.name()}},
                                 {"num_parameters", num_parameters},
                                 {"tensors", shapes},
                                 {"torch_version", TORCH_VERSION},
                                 {"saved_by", "torchtrain"}};
  io::replace_file(folder / "model.safetensors", [&](io::FileWriter& file) { io::save_safetensors(file, tensors); });
  io::replace_file(folder / "config.json", [&](io::FileWriter& file) {
    const auto text = config.dump(2) + "\n";
    file.write(text.data(), text.size());
  });
}

TORCHTRAIN_INLINE void save_model(const torch::nn::Module& module, const std::filesystem::path& folder) {
  save_model(module, state_dict(module), folder);
}

TORCHTRAIN_INLINE void load_model(torch::nn::Module& module, const std::filesystem::path& folder) {
  const auto file = folder / "model.safetensors";
  load_state_dict(module, io::load_safetensors(file), file.string());
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

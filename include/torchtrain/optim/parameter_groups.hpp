// Which parameters get weight decay: the Python Trainer's two parameter groups.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// True for the normalization layers whose weights are never decayed.
TORCHTRAIN_INLINE bool is_normalization_layer(const torch::nn::Module& module);

/// True when a parameter's dotted name marks it as a bias or a norm weight, by the
/// patterns of the Python Trainer: "bias", "layernorm", "rmsnorm", a path component
/// "norm", or a component ending in "_norm" (case-insensitive). This catches norm layers
/// a user wrote as plain modules (an RMSNorm, say).
TORCHTRAIN_INLINE bool is_exempt_by_name(std::string_view name);

/// Trainable parameters split as the Python Trainer splits them: `decay` gets
/// weight_decay, `no_decay` (biases and the weights of normalization layers) gets none.
struct ParameterGroups {
  std::vector<torch::Tensor> decay;
  std::vector<torch::Tensor> no_decay;
};

/// Splits the model's trainable parameters, in `named_parameters()` order, deciding by
/// the type of the module that owns each parameter and by its name.
TORCHTRAIN_INLINE ParameterGroups weight_decay_groups(const torch::nn::Module& model);

}  // namespace torchtrain::optim

namespace torchtrain::detail {

// The Python Trainer's groups: weight decay on `decay`, none on `no_decay`; empty groups left out.
template <class Options>
std::vector<torch::optim::OptimizerParamGroup> groups_with_decay(const torch::nn::Module& model, const Options& options,
                                                                 double weight_decay) {
  auto [decay, no_decay] = optim::weight_decay_groups(model);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty())
    groups.emplace_back(std::move(decay), std::make_unique<Options>(Options(options).weight_decay(weight_decay)));
  if (!no_decay.empty())
    groups.emplace_back(std::move(no_decay), std::make_unique<Options>(Options(options).weight_decay(0)));
  return groups;
}

}  // namespace torchtrain::detail

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cctype>
#include <string>

#include <torch/nn/functional/instancenorm.h>  // LibTorch's instancenorm.h needs it first
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/instancenorm.h>
#include <torch/nn/modules/normalization.h>

namespace torchtrain::optim {

TORCHTRAIN_INLINE bool is_normalization_layer(const torch::nn::Module& module) {
  return dynamic_cast<const torch::nn::LayerNormImpl*>(&module) ||
         dynamic_cast<const torch::nn::GroupNormImpl*>(&module) ||
         dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module) ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module) ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&module) ||
         dynamic_cast<const torch::nn::InstanceNorm1dImpl*>(&module) ||
         dynamic_cast<const torch::nn::InstanceNorm2dImpl*>(&module) ||
         dynamic_cast<const torch::nn::InstanceNorm3dImpl*>(&module) ||
         dynamic_cast<const torch::nn::LocalResponseNormImpl*>(&module);
}

TORCHTRAIN_INLINE bool is_exempt_by_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.find("bias") != std::string::npos || lower.find("layernorm") != std::string::npos ||
      lower.find("rmsnorm") != std::string::npos)
    return true;
  std::string_view rest = lower;
  while (!rest.empty()) {
    auto dot = rest.find('.');
    std::string_view component = rest.substr(0, dot);
    if (component == "norm" || component.ends_with("_norm")) return true;
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  }
  return false;
}

TORCHTRAIN_INLINE ParameterGroups weight_decay_groups(const torch::nn::Module& model) {
  ParameterGroups groups;
  for (const auto& owner : model.named_modules(/*name_prefix=*/"", /*include_self=*/true)) {
    const bool normalization = is_normalization_layer(*owner.value());
    for (const auto& parameter : owner.value()->named_parameters(/*recurse=*/false)) {
      if (!parameter.value().requires_grad()) continue;
      auto name = owner.key().empty() ? parameter.key() : owner.key() + "." + parameter.key();
      (normalization || is_exempt_by_name(name) ? groups.no_decay : groups.decay)
          .push_back(parameter.value());
    }
  }
  return groups;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

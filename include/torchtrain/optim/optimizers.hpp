// make_optimizer: the optimizer `--optim` names, built as the Python Trainer builds it.
#pragma once

#include <memory>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// The optimizer `args.optim` names, with `learning_rate`, `weight_decay` (not on biases and
/// norm weights), `adam_beta1`, `adam_beta2`, `adam_epsilon` and `optim_args`:
/// - adamw_torch: LibTorch's AdamW.
/// - adamw_torch_fused: MultiTensorAdamW with LibTorch's fused kernel (`at::_fused_adamw_`),
///   on the CPU and CUDA.
/// - sgd: optim_args momentum, dampening, nesterov (PyTorch's defaults 0, 0, false).
/// - adagrad: optim_args lr_decay, initial_accumulator_value, eps (0, 0, 1e-10).
/// - rmsprop: optim_args alpha, eps, momentum, centered (0.99, 1e-8, 0, false).
/// - adafactor: optim::Adafactor with scale_parameter and relative_step off (as the Python
///   Trainer); optim_args clip_threshold (1), decay_rate (-0.8), beta1 (none).
/// - galore_* (galore.hpp), apollo_* (apollo.hpp): low-rank projected states of the Linear
///   weights `optim_target_modules` names; lomo, adalomo (lomo.hpp, adalomo.hpp): updates inside
///   backward; schedule_free_* (schedule_free.hpp); lion_32bit (lion.hpp); ademamix
///   (ademamix.hpp); adamw_8bit (adamw_8bit.hpp): each as the Python Trainer builds it from its
///   reference package, with that package's defaults. docs/optimizers.md has the table.
/// Each one's load() restores what its save() wrote, learning rates included.
/// Throws ArgumentError, naming the flag, for an optim_args name the optimizer does not take,
/// a value it refuses, a negative weight_decay, and Adam-style betas outside [0, 1) or a
/// negative epsilon.
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model,
                                                                         const TrainingArguments& args);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/name_values.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/optim/adafactor.hpp>
#include <torchtrain/optim/adamw_8bit.hpp>
#include <torchtrain/optim/ademamix.hpp>
#include <torchtrain/optim/apollo.hpp>
#include <torchtrain/optim/galore.hpp>
#include <torchtrain/optim/lion.hpp>
#include <torchtrain/optim/lomo.hpp>
#include <torchtrain/optim/schedule_free.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/multi_tensor_adamw.hpp>
#include <torchtrain/optim/parameter_groups.hpp>
#include <torchtrain/optim/resumable.hpp>

namespace torchtrain::detail {

// `Optimizer` with `options` over the groups above, restoring its options on load.
template <class Optimizer, class Options>
std::unique_ptr<torch::optim::Optimizer> resumable(const torch::nn::Module& model, const Options& options,
                                                   double weight_decay) {
  return std::make_unique<optim::Resumable<Optimizer, Options>>(groups_with_decay(model, options, weight_decay),
                                                                options);
}

// Refuses, naming the flag, the settings LibTorch's optimizers would refuse in their own words
// ("Invalid beta parameter at index 0") or take in silence (a negative weight decay grows the weights).
inline void check_optimizer_arguments(const TrainingArguments& args) {
  if (!(args.weight_decay >= 0))
    throw ArgumentError(fmt::format("--weight_decay must not be negative (0 for none), got {}", args.weight_decay));
  // The optimizers that take --adam_beta1, --adam_beta2 and --adam_epsilon as Python's Trainer passes them.
  constexpr OptimizerNames adam_like[] = {OptimizerNames::adamw_torch,  OptimizerNames::adamw_torch_fused,
                                          OptimizerNames::apollo_adamw, OptimizerNames::apollo_adamw_layerwise,
                                          OptimizerNames::adamw_8bit,   OptimizerNames::ademamix,
                                          OptimizerNames::lion_32bit,   OptimizerNames::schedule_free_adamw};
  if (std::find(std::begin(adam_like), std::end(adam_like), args.optim) == std::end(adam_like)) return;
  for (const auto& [flag, beta] : {std::pair{"adam_beta1", args.adam_beta1}, std::pair{"adam_beta2", args.adam_beta2}})
    if (!(beta >= 0 && beta < 1))
      throw ArgumentError(fmt::format("--{} must be in [0, 1), got {} (AdamW's default is {})", flag, beta,
                                      flag == std::string_view("adam_beta1") ? 0.9 : 0.999));
  if (!(args.adam_epsilon >= 0))
    throw ArgumentError(fmt::format("--adam_epsilon must not be negative (the default is 1e-08), got {}",
                                    args.adam_epsilon));
}

// AdamW's options from the arguments; weight decay is set per group.
inline torch::optim::AdamWOptions adamw_options(const TrainingArguments& args) {
  return torch::optim::AdamWOptions(args.learning_rate).betas({args.adam_beta1, args.adam_beta2}).eps(args.adam_epsilon);
}

// The optimizer args.optim names (make_optimizer below).
inline std::unique_ptr<torch::optim::Optimizer> make_named_optimizer(const torch::nn::Module& model,
                                                                     const TrainingArguments& args) {
  using optim::Adafactor, optim::AdafactorOptions, optim::MultiTensorAdamW;
  torchtrain::detail::OptimArgs extra(args.optim_args.value_or(""));
  const double lr = args.learning_rate;
  switch (args.optim) {
    case OptimizerNames::adamw_torch_fused: {
      extra.require_all_taken("adamw_torch_fused");
      return std::make_unique<MultiTensorAdamW>(torchtrain::detail::groups_with_decay(model, torchtrain::detail::adamw_options(args), args.weight_decay),
                                                torchtrain::detail::adamw_options(args), /*fused=*/true);
    }
    case OptimizerNames::adamw_torch: {
      extra.require_all_taken("adamw_torch");
      return torchtrain::detail::resumable<torch::optim::AdamW>(model, torchtrain::detail::adamw_options(args), args.weight_decay);
    }
    case OptimizerNames::sgd: {
      auto options = torch::optim::SGDOptions(lr)
                         .momentum(extra.take("momentum", 0.0))
                         .dampening(extra.take("dampening", 0.0))
                         .nesterov(extra.take("nesterov", false));
      extra.require_all_taken("sgd");
      return torchtrain::detail::resumable<torch::optim::SGD>(model, options, args.weight_decay);
    }
    case OptimizerNames::adagrad: {
      auto options = torch::optim::AdagradOptions(lr)
                         .lr_decay(extra.take("lr_decay", 0.0))
                         .initial_accumulator_value(extra.take("initial_accumulator_value", 0.0))
                         .eps(extra.take("eps", 1e-10));
      extra.require_all_taken("adagrad");
      return torchtrain::detail::resumable<torch::optim::Adagrad>(model, options, args.weight_decay);
    }
    case OptimizerNames::adafactor: {
      // As the Python Trainer sets it up: the learning rate as given, not relative or scaled.
      auto options = AdafactorOptions(lr).scale_parameter(false).relative_step(false);
      options.clip_threshold(extra.take("clip_threshold", 1.0)).decay_rate(extra.take("decay_rate", -0.8));
      if (auto beta1 = extra.take("beta1", std::optional<double>{})) options.beta1(beta1);
      extra.require_all_taken("adafactor");
      return std::make_unique<Adafactor>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay), options);
    }
    case OptimizerNames::rmsprop: {
      auto options = torch::optim::RMSpropOptions(lr)
                         .alpha(extra.take("alpha", 0.99))
                         .eps(extra.take("eps", 1e-8))
                         .momentum(extra.take("momentum", 0.0))
                         .centered(extra.take("centered", false));
      extra.require_all_taken("rmsprop");
      return torchtrain::detail::resumable<torch::optim::RMSprop>(model, options, args.weight_decay);
    }
    case OptimizerNames::lion_32bit:
      return optim::make_lion(model, args, extra);
    case OptimizerNames::ademamix:
      return optim::make_ademamix(model, args, extra);
    case OptimizerNames::adamw_8bit:
      return optim::make_adamw_8bit(model, args, extra);
    case OptimizerNames::lomo:
    case OptimizerNames::adalomo:
      return optim::make_lomo(model, args, extra);
    case OptimizerNames::schedule_free_adamw:
    case OptimizerNames::schedule_free_sgd:
      return optim::make_schedule_free(model, args, extra);
    case OptimizerNames::galore_adamw:
    case OptimizerNames::galore_adafactor:
    case OptimizerNames::galore_adamw_layerwise:
    case OptimizerNames::galore_adafactor_layerwise:
      return optim::make_galore(model, args, extra);
    case OptimizerNames::apollo_adamw:
    case OptimizerNames::apollo_adamw_layerwise:
      return optim::make_apollo(model, args, extra);
  }
  throw ArgumentError("--optim: unknown optimizer");
}

}  // namespace torchtrain::detail

namespace torchtrain::optim {

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model,
                                                                         const TrainingArguments& args) {
  torchtrain::detail::check_optimizer_arguments(args);
  try {
    return torchtrain::detail::make_named_optimizer(model, args);
  } catch (const c10::Error& error) {  // an optim_args value LibTorch refuses (a negative momentum...)
    throw ArgumentError(fmt::format("--optim {} refuses its settings (--optim_args '{}'): {}",
                                    enum_names(args.optim)[static_cast<std::size_t>(args.optim)],
                                    torchtrain::detail::printable(args.optim_args.value_or("")), torchtrain::detail::printable(error.msg(), 200)));
  }
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

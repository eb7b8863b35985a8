// AdamW with 8-bit blockwise-quantized moments, with the arithmetic of bitsandbytes' AdamW (optim_bits=8) on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/blockwise_quantization.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>

namespace torchtrain::detail {
class OptimArgs;  // optim/detail/optim_args.hpp
}  // namespace torchtrain::detail

namespace torchtrain::optim {

/// AdamW8bit's settings, with the defaults of Python's `bitsandbytes.optim.AdamW`.
struct AdamW8bitOptions : torch::optim::OptimizerCloneableOptions<AdamW8bitOptions> {
  using betas_t = std::tuple<double, double>;
  explicit AdamW8bitOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 1e-2;  // decoupled: the parameter shrinks by lr * weight_decay
  // Parameters with fewer elements keep 32-bit moments: their 8-bit state would save little.
  TORCH_ARG(std::int64_t, min_8bit_size) = 4096;

 public:  // TORCH_ARG leaves the access private
  double get_lr() const override { return lr(); }
  void set_lr(const double value) override { lr(value); }
};

/// AdamW whose two moments are stored in 8 bits (Dettmers et al., 2022, "8-bit Optimizers via
/// Block-wise Quantization"): each step dequantizes them, does the AdamW update in float32
/// and quantizes them again, per block of 256 values with a dynamic map (BlockwiseQuantizer).
///
/// State, under bitsandbytes' keys: for a parameter of at least `min_8bit_size` elements,
/// "state1" and "state2" (uint8 codes of the first and second moment, the parameter's shape),
/// "absmax1" and "absmax2" (float32, one per block of 256), "qmap1" and "qmap2" (the signed and
/// unsigned maps, 256 float32 each); for a smaller parameter, or one named in
/// `full_precision` (the Python Trainer's embedding weights), float32 "state1" and "state2".
/// About 2 bytes per element for a large parameter, a quarter of AdamW's 8.
///
/// The arithmetic is that of bitsandbytes' CPU kernels, operation for operation (the 8-bit
/// and the 32-bit paths differ in where epsilon goes), so the parameters and the codes equal
/// bitsandbytes' on the CPU.
class AdamW8bit : public PerParameterOptimizer<AdamW8bitOptions> {
 public:
  /// `full_precision`: parameters that keep 32-bit moments whatever their size.
  AdamW8bit(std::vector<torch::optim::OptimizerParamGroup> groups, const AdamW8bitOptions& defaults,
            std::vector<torch::Tensor> full_precision = {});
  AdamW8bit(std::vector<torch::Tensor> parameters, const AdamW8bitOptions& defaults = AdamW8bitOptions())
      : AdamW8bit({torch::optim::OptimizerParamGroup(std::move(parameters))}, defaults) {}

 protected:
  void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) override;
  std::optional<std::vector<StateTensor>> state_layout(std::size_t group, const torch::Tensor& parameter,
                                                       const NamedState& saved) const override;

 private:
  // Whether a fresh state of `parameter` is quantized (else it keeps 32-bit moments).
  bool quantizes(const torch::Tensor& parameter, const AdamW8bitOptions& options) const;

  // bitsandbytes' _optimizer_update_8bit_blockwise_cpu for "adam", a slice of whole blocks at a
  // time: each value's arithmetic is the same, and only one slice's moments are ever float32.
  void update_8bit(NamedState& state, torch::Tensor& parameter, const torch::Tensor& gradient,
                   const AdamW8bitOptions& options);

  // Adam's moments of step `step`, updated in place in float32, and that step's bias
  // corrections: 1 - beta1^step and sqrt(1 - beta2^step).
  static std::pair<double, double> update_moments(torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                                                  const torch::Tensor& gradient, const AdamW8bitOptions& options,
                                                  std::int64_t step);

  // bitsandbytes' _optimizer_update_32bit_cpu for "adam" (epsilon scaled by the second
  // correction, unlike the 8-bit path).
  static void update_32bit(NamedState& state, torch::Tensor& parameter, const torch::Tensor& gradient,
                           const AdamW8bitOptions& options);

  BlockwiseQuantizer first_moment_, second_moment_;
  std::unordered_set<const void*> full_precision_;
};

/// `--optim adamw_8bit` as the Python Trainer builds it: bitsandbytes' AdamW with
/// optim_bits=8 over the Trainer's two weight-decay groups, with learning_rate, adam_beta1,
/// adam_beta2, adam_epsilon, and 32-bit moments for the weights of Embedding modules (the
/// Trainer's override). It reads no optim_args.
TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_adamw_8bit(const torch::nn::Module& model,
                                                                           const TrainingArguments& args,
                                                                           torchtrain::detail::OptimArgs& extra);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <torch/nn/modules/embedding.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/detail/optim_args.hpp>
#include <torchtrain/optim/parameter_groups.hpp>

namespace torchtrain::optim {

TORCHTRAIN_INLINE AdamW8bit::AdamW8bit(std::vector<torch::optim::OptimizerParamGroup> groups,
                                       const AdamW8bitOptions& defaults, std::vector<torch::Tensor> full_precision)
    : PerParameterOptimizer<AdamW8bitOptions>(std::move(groups), defaults),
      first_moment_(dynamic_quantization_map(/*is_signed=*/true)),
      second_moment_(dynamic_quantization_map(/*is_signed=*/false)) {
  for (const auto& parameter : full_precision) full_precision_.insert(parameter.unsafeGetTensorImpl());
}

TORCHTRAIN_INLINE void AdamW8bit::update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) {
  const auto& options = this->options(group);
  auto& state = state_of(parameter);
  if (state.tensors.empty()) {
    state.tensors = fresh_tensors(group, parameter);
    // Kept for bitsandbytes' layout; the updates use the same maps, held by the quantizers.
    if (quantizes(parameter, options)) {
      state.tensors["qmap1"] = first_moment_.map().to(parameter.device());
      state.tensors["qmap2"] = second_moment_.map().to(parameter.device());
    }
  }
  state.step += 1;
  if (state.tensors.at("state1").scalar_type() == torch::kUInt8)
    update_8bit(state, parameter, gradient, options);
  else
    update_32bit(state, parameter, gradient, options);
}

TORCHTRAIN_INLINE bool AdamW8bit::quantizes(const torch::Tensor& parameter, const AdamW8bitOptions& options) const {
  return parameter.numel() >= options.min_8bit_size() && !full_precision_.contains(parameter.unsafeGetTensorImpl());
}

TORCHTRAIN_INLINE std::optional<std::vector<StateTensor>> AdamW8bit::state_layout(std::size_t group,
                                                                                   const torch::Tensor& parameter,
                                                                                   const NamedState& saved) const {
  // Either kind of moments steps correctly (the update follows the type of "state1"); any
  // other is held against what this run would make.
  const auto first = saved.tensors.find("state1");
  const bool either = first != saved.tensors.end() &&
                      (first->second.scalar_type() == torch::kUInt8 || first->second.scalar_type() == torch::kFloat);
  const bool eight_bit = either ? first->second.scalar_type() == torch::kUInt8 : quantizes(parameter, options(group));
  // The moments: 8-bit codes with their scales and maps, or float32.
  const auto shape = parameter.sizes().vec();
  if (!eight_bit) return std::vector<StateTensor>{{"state1", shape, torch::kFloat}, {"state2", shape, torch::kFloat}};
  const std::vector<std::int64_t> blocks{BlockwiseQuantizer::blocks(parameter.numel())};
  return std::vector<StateTensor>{{"state1", shape, torch::kUInt8},
                                  {"state2", shape, torch::kUInt8},
                                  {"absmax1", blocks, torch::kFloat},
                                  {"absmax2", blocks, torch::kFloat},
                                  {"qmap1", first_moment_.map().sizes().vec(), torch::kFloat},
                                  {"qmap2", second_moment_.map().sizes().vec(), torch::kFloat}};
}

TORCHTRAIN_INLINE void AdamW8bit::update_8bit(NamedState& state, torch::Tensor& parameter,
                                              const torch::Tensor& gradient, const AdamW8bitOptions& options) {
  constexpr std::int64_t slice = 256 * BlockwiseQuantizer::block_size;
  auto& t = state.tensors;
  auto codes1 = t.at("state1").view(-1), codes2 = t.at("state2").view(-1);
  const auto flat_gradient = gradient.reshape(-1);
  auto flat_parameter = parameter.view(-1);  // parameters are contiguous: a view writes through
  const double lr = options.lr();
  for (std::int64_t start = 0; start < flat_parameter.numel(); start += slice) {
    const auto length = std::min(slice, flat_parameter.numel() - start);
    const auto first_block = start / BlockwiseQuantizer::block_size;
    const auto blocks = BlockwiseQuantizer::blocks(length);
    auto slice_codes1 = codes1.narrow(0, start, length), slice_codes2 = codes2.narrow(0, start, length);
    auto slice_absmax1 = t.at("absmax1").narrow(0, first_block, blocks);
    auto slice_absmax2 = t.at("absmax2").narrow(0, first_block, blocks);
    auto exp_avg = first_moment_.dequantize(slice_codes1, slice_absmax1);
    auto exp_avg_sq = second_moment_.dequantize(slice_codes2, slice_absmax2);
    auto target = flat_parameter.narrow(0, start, length);
    auto value = target.to(torch::kFloat);  // the slice itself when the parameter is float32
    const auto [correction1, correction2] =
        update_moments(exp_avg, exp_avg_sq, flat_gradient.narrow(0, start, length), options, state.step);
    const auto denominator = (exp_avg_sq.sqrt() / correction2).add_(options.eps());
    if (options.weight_decay() > 0.0) value.mul_(1.0 - lr * options.weight_decay());
    value.addcdiv_(exp_avg, denominator, -lr / correction1);
    if (!value.is_same(target)) target.copy_(value);
    first_moment_.quantize(exp_avg, slice_codes1, slice_absmax1);
    second_moment_.quantize(exp_avg_sq, slice_codes2, slice_absmax2);
  }
}

TORCHTRAIN_INLINE std::pair<double, double> AdamW8bit::update_moments(torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                                                                      const torch::Tensor& gradient,
                                                                      const AdamW8bitOptions& options,
                                                                      std::int64_t step) {
  const auto grad = gradient.to(torch::kFloat);
  const auto [beta1, beta2] = options.betas();
  exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
  const double count = static_cast<double>(step);
  return {1.0 - std::pow(beta1, count), std::sqrt(1.0 - std::pow(beta2, count))};
}

TORCHTRAIN_INLINE void AdamW8bit::update_32bit(NamedState& state, torch::Tensor& parameter,
                                               const torch::Tensor& gradient, const AdamW8bitOptions& options) {
  auto& exp_avg = state.tensors.at("state1");
  auto& exp_avg_sq = state.tensors.at("state2");
  auto value = parameter.to(torch::kFloat);
  const double lr = options.lr();
  const auto [correction1, correction2] = update_moments(exp_avg, exp_avg_sq, gradient, options, state.step);
  const double step_size = -lr * correction2 / correction1;
  if (options.weight_decay() > 0.0) value.mul_(1.0 - lr * options.weight_decay());
  value.add_(exp_avg / (exp_avg_sq.sqrt() + options.eps() * correction2), step_size);
  if (!value.is_same(parameter)) parameter.copy_(value);
}

TORCHTRAIN_INLINE std::unique_ptr<torch::optim::Optimizer> make_adamw_8bit(const torch::nn::Module& model,
                                                                           const TrainingArguments& args,
                                                                           torchtrain::detail::OptimArgs& extra) {
  extra.require_all_taken("adamw_8bit");
  if (!(args.learning_rate >= 0))
    throw ArgumentError(fmt::format("--learning_rate must not be negative, got {}", args.learning_rate));
  if (!(args.weight_decay >= 0))
    throw ArgumentError(fmt::format("--weight_decay must not be negative (0 for none), got {}", args.weight_decay));
  for (const auto& [flag, beta, fallback] :
       {std::tuple{"adam_beta1", args.adam_beta1, 0.9}, std::tuple{"adam_beta2", args.adam_beta2, 0.999}})
    if (!(beta >= 0 && beta < 1))
      throw ArgumentError(fmt::format("--{} must be in [0, 1) (the default is {}), got {}", flag, fallback, beta));
  if (!(args.adam_epsilon >= 0))
    throw ArgumentError(
        fmt::format("--adam_epsilon must not be negative (the default is 1e-08), got {}", args.adam_epsilon));

  auto options = AdamW8bitOptions(args.learning_rate).betas({args.adam_beta1, args.adam_beta2}).eps(args.adam_epsilon);
  std::vector<torch::Tensor> embeddings;
  auto note_embedding = [&embeddings](const torch::nn::Module& module) {
    if (const auto* embedding = dynamic_cast<const torch::nn::EmbeddingImpl*>(&module))
      embeddings.push_back(embedding->weight);
  };
  note_embedding(model);
  for (const auto& module : model.modules(/*include_self=*/false)) note_embedding(*module);
  return std::make_unique<AdamW8bit>(torchtrain::detail::groups_with_decay(model, options, args.weight_decay),
                                     options, std::move(embeddings));
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

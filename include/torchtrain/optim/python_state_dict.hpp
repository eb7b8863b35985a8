// An optimizer's state as Python's `optimizer.state_dict()` lays it out: what optimizer.pt
// holds, so that a run resumes across languages.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/io/shared_bytes.hpp>

namespace torchtrain::optim {

/// `optimizer`'s state as Python's `optimizer.state_dict()` holds it (the keys of PyTorch's
/// AdamW, SGD, Adagrad and RMSprop and of transformers' Adafactor), with each group's
/// `initial_lr` (a Python scheduler's) from `initial_lrs`; nullopt for an optimizer of
/// another type.
TORCHTRAIN_INLINE std::optional<c10::IValue> python_state_dict(const torch::optim::Optimizer& optimizer,
                                                               const std::vector<double>& initial_lrs = {});

/// Restores what python_state_dict or Python's `optimizer.state_dict()` holds: options
/// (learning rates included) and state, for the same parameter groups in the same order.
/// False for an optimizer of another type; FileError naming `source` when it does not fit.
TORCHTRAIN_INLINE bool load_python_state_dict(torch::optim::Optimizer& optimizer, const c10::IValue& saved,
                                              std::string_view source);

/// The bytes of optimizer.pt: Python's `torch.save(optimizer.state_dict())` for the
/// optimizers python_state_dict knows, else the optimizer's own LibTorch archive (which
/// only C++ reads).
TORCHTRAIN_INLINE std::string optimizer_file_bytes(const torch::optim::Optimizer& optimizer,
                                                   const std::vector<double>& initial_lrs);

/// Restores what optimizer_file_bytes wrote, or Python's optimizer.pt; `file_name` names
/// the file in errors.
TORCHTRAIN_INLINE void load_optimizer_file(torch::optim::Optimizer& optimizer, const std::string& bytes,
                                           std::string_view file_name);
/// As above, from a mapped file (a checkpoint's optimizer.pt) read in place: the state is
/// copied once, out of the file's pages into the optimizer's state tensors of the same
/// shapes where it has them (memory in use already), else into new memory.
TORCHTRAIN_INLINE void load_optimizer_file(torch::optim::Optimizer& optimizer, const io::SharedBytes& bytes,
                                           std::string_view file_name);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cmath>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/archive_bytes.hpp>
#include <torchtrain/io/copy_tensor.hpp>
#include <torchtrain/io/torch_pickle.hpp>
#include <torchtrain/optim/adafactor.hpp>
#include <torchtrain/optim/multi_tensor_adamw.hpp>

namespace torchtrain::optim::detail {

using Dict = c10::impl::GenericDict;

// A number Python may have saved as a float, an int or a 0-dim tensor (a step count).
inline double number(const c10::IValue& value) {
  if (value.isTensor()) return value.toTensor().item<double>();
  if (value.isInt()) return static_cast<double>(value.toInt());
  return value.toDouble();
}
inline std::int64_t count(const c10::IValue& value) { return std::llround(number(value)); }
inline double number_or(const Dict& dict, const char* key, double otherwise) {
  return dict.contains(key) ? number(dict.at(key)) : otherwise;
}
inline bool flag_or(const Dict& dict, const char* key, bool otherwise) {
  return dict.contains(key) && !dict.at(key).isNone() ? dict.at(key).toBool() : otherwise;
}
// A state tensor of the parameter's shape, on its device, as Python's load_state_dict casts it.
inline torch::Tensor tensor_like(const Dict& dict, const char* key, const torch::Tensor& parameter) {
  const auto tensor = io::value_at(dict, key).toTensor();
  TORCH_CHECK(tensor.sizes() == parameter.sizes(), "its '", key, "' has shape ", tensor.sizes(),
              " for a parameter of shape ", parameter.sizes());
  return tensor.to(parameter.options());
}
// Whether a state holds a tensor under `key` (not None). One it lacks is refused where the
// optimizer keeps it (`kept_when`: "with amsgrad", "for a matrix"): the step would fail on it.
inline bool has_state_tensor(const Dict& dict, const char* key, const torch::Tensor& parameter, const char* optimizer,
                             const char* kept_when) {
  if (dict.contains(key) && dict.at(key).isTensor()) return true;
  TORCH_CHECK(kept_when == nullptr, "its state of a parameter of shape ", parameter.sizes(), " has no '", key,
              "', which ", optimizer, " keeps ", kept_when);
  return false;
}
// A state tensor the optimizer keeps only with some options: as tensor_like where it is
// there, else undefined (or refused, see has_state_tensor).
inline torch::Tensor optional_tensor_like(const Dict& dict, const char* key, const torch::Tensor& parameter,
                                          const char* optimizer, const char* kept_when = nullptr) {
  return has_state_tensor(dict, key, parameter, optimizer, kept_when) ? tensor_like(dict, key, parameter)
                                                                      : torch::Tensor();
}
// Python keeps the step of AdamW, Adagrad and RMSprop as a float32 0-dim tensor.
inline torch::Tensor step_tensor(std::int64_t step) { return torch::tensor(static_cast<float>(step)); }

// The Python layout of each optimizer torchtrain makes: the keys of a parameter group (as
// PyTorch's or transformers' class writes them) and of a parameter's state.
struct AdamWLayout {
  static constexpr const char* name = "AdamW";
  static constexpr const char* signature_key = "betas";  // a parameter group key no other layout has
  using Options = torch::optim::AdamWOptions;
  using State = torch::optim::AdamWParamState;
  bool fused = false;
  void write(Dict& group, const Options& options) const {
    group.insert("lr", options.lr());
    group.insert("betas", c10::ivalue::Tuple::create(std::get<0>(options.betas()), std::get<1>(options.betas())));
    group.insert("eps", options.eps());
    group.insert("weight_decay", options.weight_decay());
    group.insert("amsgrad", options.amsgrad());
    group.insert("maximize", false);
    group.insert("foreach", c10::IValue());
    group.insert("capturable", false);
    group.insert("differentiable", false);
    group.insert("fused", fused ? c10::IValue(true) : c10::IValue());
    group.insert("decoupled_weight_decay", true);
  }
  static void read(const Dict& group, Options& options) {
    const auto betas = io::value_at(group, "betas").toTupleRef().elements();
    options.lr(number(io::value_at(group, "lr")))
        .betas({number(betas.at(0)), number(betas.at(1))})
        .eps(number(io::value_at(group, "eps")))
        .weight_decay(number(io::value_at(group, "weight_decay")))
        .amsgrad(flag_or(group, "amsgrad", false));
  }
  static void write(Dict& entry, const State& state, const torch::Tensor&) {
    entry.insert("step", step_tensor(state.step()));
    entry.insert("exp_avg", state.exp_avg());
    entry.insert("exp_avg_sq", state.exp_avg_sq());
    if (state.max_exp_avg_sq().defined()) entry.insert("max_exp_avg_sq", state.max_exp_avg_sq());
  }
  static std::unique_ptr<State> read(const Dict& entry, const torch::Tensor& parameter, const Options& options) {
    auto state = std::make_unique<State>();
    state->step(count(io::value_at(entry, "step")))
        .exp_avg(tensor_like(entry, "exp_avg", parameter))
        .exp_avg_sq(tensor_like(entry, "exp_avg_sq", parameter))
        .max_exp_avg_sq(optional_tensor_like(entry, "max_exp_avg_sq", parameter, name,
                                             options.amsgrad() ? "with amsgrad" : nullptr));
    return state;
  }
};

struct SGDLayout {
  static constexpr const char* name = "SGD";
  static constexpr const char* signature_key = "dampening";  // a parameter group key no other layout has
  using Options = torch::optim::SGDOptions;
  using State = torch::optim::SGDParamState;
  static void write(Dict& group, const Options& options) {
    group.insert("lr", options.lr());
    group.insert("momentum", options.momentum());
    group.insert("dampening", options.dampening());
    group.insert("weight_decay", options.weight_decay());
    group.insert("nesterov", options.nesterov());
    group.insert("maximize", false);
    group.insert("foreach", c10::IValue());
    group.insert("differentiable", false);
    group.insert("fused", c10::IValue());
  }
  static void read(const Dict& group, Options& options) {
    options.lr(number(io::value_at(group, "lr")))
        .momentum(number_or(group, "momentum", 0))
        .dampening(number_or(group, "dampening", 0))
        .weight_decay(number(io::value_at(group, "weight_decay")))
        .nesterov(flag_or(group, "nesterov", false));
  }
  static void write(Dict& entry, const State& state, const torch::Tensor&) {
    entry.insert("momentum_buffer", state.momentum_buffer().defined() ? c10::IValue(state.momentum_buffer()) : c10::IValue());
  }
  // No state without a momentum buffer (Python saves None without momentum): LibTorch's SGD
  // then starts the buffer from the next gradient, as Python's does from None.
  static std::unique_ptr<State> read(const Dict& entry, const torch::Tensor& parameter, const Options&) {
    auto buffer = optional_tensor_like(entry, "momentum_buffer", parameter, name);
    if (!buffer.defined()) return nullptr;
    auto state = std::make_unique<State>();
    state->momentum_buffer(std::move(buffer));
    return state;
  }
};

struct AdagradLayout {
  static constexpr const char* name = "Adagrad";
  static constexpr const char* signature_key = "lr_decay";  // a parameter group key no other layout has
  using Options = torch::optim::AdagradOptions;
  using State = torch::optim::AdagradParamState;
  static void write(Dict& group, const Options& options) {
    group.insert("lr", options.lr());
    group.insert("lr_decay", options.lr_decay());
    group.insert("weight_decay", options.weight_decay());
    group.insert("initial_accumulator_value", options.initial_accumulator_value());
    group.insert("eps", options.eps());
    group.insert("foreach", c10::IValue());
    group.insert("maximize", false);
    group.insert("differentiable", false);
    group.insert("fused", c10::IValue());
  }
  static void read(const Dict& group, Options& options) {
    options.lr(number(io::value_at(group, "lr")))
        .lr_decay(number_or(group, "lr_decay", 0))
        .weight_decay(number(io::value_at(group, "weight_decay")))
        .initial_accumulator_value(number_or(group, "initial_accumulator_value", 0))
        .eps(number(io::value_at(group, "eps")));
  }
  static void write(Dict& entry, const State& state, const torch::Tensor&) {
    entry.insert("step", step_tensor(state.step()));
    entry.insert("sum", state.sum());
  }
  static std::unique_ptr<State> read(const Dict& entry, const torch::Tensor& parameter, const Options&) {
    auto state = std::make_unique<State>();
    state->step(count(io::value_at(entry, "step"))).sum(tensor_like(entry, "sum", parameter));
    return state;
  }
};

struct RMSpropLayout {
  static constexpr const char* name = "RMSprop";
  static constexpr const char* signature_key = "alpha";  // a parameter group key no other layout has
  using Options = torch::optim::RMSpropOptions;
  using State = torch::optim::RMSpropParamState;
  static void write(Dict& group, const Options& options) {
    group.insert("lr", options.lr());
    group.insert("momentum", options.momentum());
    group.insert("alpha", options.alpha());
    group.insert("eps", options.eps());
    group.insert("centered", options.centered());
    group.insert("weight_decay", options.weight_decay());
    group.insert("capturable", false);
    group.insert("foreach", c10::IValue());
    group.insert("maximize", false);
    group.insert("differentiable", false);
  }
  static void read(const Dict& group, Options& options) {
    options.lr(number(io::value_at(group, "lr")))
        .momentum(number_or(group, "momentum", 0))
        .alpha(number(io::value_at(group, "alpha")))
        .eps(number(io::value_at(group, "eps")))
        .centered(flag_or(group, "centered", false))
        .weight_decay(number(io::value_at(group, "weight_decay")));
  }
  static void write(Dict& entry, const State& state, const torch::Tensor&) {
    entry.insert("step", step_tensor(state.step()));
    entry.insert("square_avg", state.square_avg());
    if (state.momentum_buffer().defined()) entry.insert("momentum_buffer", state.momentum_buffer());
    if (state.grad_avg().defined()) entry.insert("grad_avg", state.grad_avg());
  }
  static std::unique_ptr<State> read(const Dict& entry, const torch::Tensor& parameter, const Options& options) {
    auto state = std::make_unique<State>();
    state->step(count(io::value_at(entry, "step")))
        .square_avg(tensor_like(entry, "square_avg", parameter))
        .momentum_buffer(optional_tensor_like(entry, "momentum_buffer", parameter, name,
                                              options.momentum() > 0 ? "with momentum" : nullptr))
        .grad_avg(optional_tensor_like(entry, "grad_avg", parameter, name, options.centered() ? "with centered" : nullptr));
    return state;
  }
};

// transformers' Adafactor: eps is the pair (eps1, eps2), the step a Python int, and RMS the
// parameter's root mean square (recomputed by every step before use).
struct AdafactorLayout {
  static constexpr const char* name = "Adafactor";
  static constexpr const char* signature_key = "clip_threshold";  // a parameter group key no other layout has
  using Options = AdafactorOptions;
  using State = AdafactorParamState;
  static void write(Dict& group, const Options& options) {
    group.insert("lr", options.lr());
    group.insert("eps", c10::ivalue::Tuple::create(options.eps1(), options.eps2()));
    group.insert("clip_threshold", options.clip_threshold());
    group.insert("decay_rate", options.decay_rate());
    group.insert("beta1", options.beta1() ? c10::IValue(*options.beta1()) : c10::IValue());
    group.insert("weight_decay", options.weight_decay());
    group.insert("scale_parameter", options.scale_parameter());
    group.insert("relative_step", options.relative_step());
    group.insert("warmup_init", options.warmup_init());
  }
  static void read(const Dict& group, Options& options) {
    const auto eps = io::value_at(group, "eps").toTupleRef().elements();
    const auto beta1 = io::value_at(group, "beta1");
    options.lr(number(io::value_at(group, "lr")))
        .eps1(number(eps.at(0)))
        .eps2(number(eps.at(1)))
        .clip_threshold(number(io::value_at(group, "clip_threshold")))
        .decay_rate(number(io::value_at(group, "decay_rate")))
        .beta1(beta1.isNone() ? std::nullopt : std::optional(number(beta1)))
        .weight_decay(number(io::value_at(group, "weight_decay")))
        .scale_parameter(flag_or(group, "scale_parameter", true))
        .relative_step(flag_or(group, "relative_step", true))
        .warmup_init(flag_or(group, "warmup_init", false));
  }
  static void write(Dict& entry, const State& state, const torch::Tensor& parameter) {
    entry.insert("step", state.step);
    for (const auto& [key, tensor] : {std::pair{"exp_avg_sq_row", state.exp_avg_sq_row},
                                      std::pair{"exp_avg_sq_col", state.exp_avg_sq_col},
                                      std::pair{"exp_avg_sq", state.exp_avg_sq}, std::pair{"exp_avg", state.exp_avg}})
      if (tensor.defined()) entry.insert(key, tensor);
    entry.insert("RMS", (parameter.norm(2) / std::sqrt(static_cast<double>(parameter.numel()))).item<double>());
  }
  static std::unique_ptr<State> read(const Dict& entry, const torch::Tensor& parameter, const Options& options) {
    auto state = std::make_unique<State>();
    state->step = count(io::value_at(entry, "step"));
    // Adafactor keeps its moments in float32 whatever the parameter's type: the second one
    // factored for a matrix (the mean squares of its rows and columns), whole for a vector;
    // the first one (with beta1) whole.
    const auto moment = [&](const char* key, torch::IntArrayRef shape, const char* kept_when) {
      if (!has_state_tensor(entry, key, parameter, name, kept_when)) return torch::Tensor();
      const auto tensor = entry.at(key).toTensor();
      TORCH_CHECK(tensor.sizes() == shape, "its '", key, "' has shape ", tensor.sizes(), " for a parameter of shape ",
                  parameter.sizes(), ", where Adafactor keeps ", shape);
      return tensor.to(parameter.device(), torch::kFloat);
    };
    if (parameter.dim() >= 2) {
      const auto [rows, columns] = factored_moment_shapes(parameter.sizes());
      state->exp_avg_sq_row = moment("exp_avg_sq_row", rows, "for a matrix");
      state->exp_avg_sq_col = moment("exp_avg_sq_col", columns, "for a matrix");
    } else {
      state->exp_avg_sq = moment("exp_avg_sq", parameter.sizes(), "for a vector");
    }
    state->exp_avg = moment("exp_avg", parameter.sizes(), options.beta1() ? "with beta1" : nullptr);
    return state;
  }
};

// {"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}, the parameters
// numbered across the groups in order, as Python numbers them.
template <class Layout>
c10::IValue state_dict_in(const torch::optim::Optimizer& optimizer, const Layout& layout,
                          const std::vector<double>& initial_lrs) {
  auto states = io::python_dict();
  auto groups = io::python_list();
  std::int64_t index = 0;
  for (std::size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    const auto& group = optimizer.param_groups()[g];
    auto saved = io::python_dict();
    layout.write(saved, static_cast<const typename Layout::Options&>(group.options()));
    if (g < initial_lrs.size()) saved.insert("initial_lr", initial_lrs[g]);  // set by Python's schedulers
    auto params = io::python_list();
    for (const auto& parameter : group.params()) {
      if (auto found = optimizer.state().find(parameter.unsafeGetTensorImpl()); found != optimizer.state().end()) {
        auto entry = io::python_dict();
        layout.write(entry, static_cast<const typename Layout::State&>(*found->second), parameter);
        states.insert(index, entry);
      }
      params.push_back(index++);
    }
    saved.insert("params", params);
    groups.push_back(saved);
  }
  auto state_dict = io::python_dict();
  state_dict.insert("state", states);
  state_dict.insert("param_groups", groups);
  return state_dict;
}

// The optimizer whose state dict has `group` as a parameter group, by the key only its
// layout writes ("an unknown optimizer" for another).
inline std::string saved_optimizer_name(const Dict& group) {
  for (const auto& [key, name] : {std::pair{AdamWLayout::signature_key, AdamWLayout::name},
                                  std::pair{SGDLayout::signature_key, SGDLayout::name},
                                  std::pair{AdagradLayout::signature_key, AdagradLayout::name},
                                  std::pair{RMSpropLayout::signature_key, RMSpropLayout::name},
                                  std::pair{AdafactorLayout::signature_key, AdafactorLayout::name}})
    if (group.contains(key)) return name;
  return "an unknown optimizer";
}

// `loaded` with its tensors in memory of the optimizer's own: a file read in place
// (io::torch_load_bytes of mapped bytes) lends its pages only while it loads. Each such
// tensor is copied into the one of `replaced` (the state it replaces) of the same name,
// shape and type (memory in use already: nothing new to touch), else into new memory.
template <class Layout>
std::unique_ptr<typename Layout::State> with_own_memory(const typename Layout::State& loaded,
                                                        const torch::optim::OptimizerParamState* replaced,
                                                        const torch::Tensor& parameter,
                                                        const typename Layout::Options& options) {
  auto tensors = io::python_dict();
  Layout::write(tensors, loaded, parameter);
  auto previous = io::python_dict();
  if (replaced) Layout::write(previous, static_cast<const typename Layout::State&>(*replaced), parameter);
  for (const auto& entry : tensors) {
    if (!entry.value().isTensor() || !io::is_in_place(entry.value().toTensor())) continue;
    const auto& tensor = entry.value().toTensor();
    const auto found = previous.find(entry.key());
    const auto target = found != previous.end() && found->value().isTensor() ? found->value().toTensor() : torch::Tensor();
    const bool reusable = target.defined() && target.sizes() == tensor.sizes() && target.dtype() == tensor.dtype() &&
                          target.device() == tensor.device() && target.is_contiguous() && !io::is_in_place(target);
    auto own = reusable ? target : torch::empty_like(tensor, torch::MemoryFormat::Contiguous);
    io::copy_tensor(own, tensor);
    entry.setValue(own);
  }
  return Layout::read(tensors, parameter, options);
}

// Reads what state_dict_in (or Python) wrote into `optimizer`, whose groups must have as
// many parameters, of the same shapes. Everything is read before anything is set.
template <class Layout>
void load_state_dict_in(torch::optim::Optimizer& optimizer, const c10::IValue& saved, std::string_view source) {
  using Options = typename Layout::Options;
  const auto fail = [&](const std::string& why) {
    return FileError(fmt::format("cannot restore the optimizer from '{}': {}", source, why));
  };
  std::vector<Options> options;  // by group
  struct Saved {
    torch::Tensor parameter;
    std::size_t group;
    std::unique_ptr<typename Layout::State> state;  // none: the parameter starts afresh
  };
  std::vector<Saved> states;
  try {
    if (!saved.isGenericDict()) throw fail("it holds no state dict");
    const auto state_dict = saved.toGenericDict();
    if (!state_dict.contains("state") || !state_dict.contains("param_groups"))
      throw fail("it has no 'state' and 'param_groups'; it is not an optimizer's state dict");
    const auto saved_states = state_dict.at("state").toGenericDict();
    const auto groups = state_dict.at("param_groups").toList();
    auto& targets = optimizer.param_groups();
    if (groups.size() != targets.size())
      throw fail(fmt::format("it has {} parameter groups, this optimizer {}: it was saved for another model or "
                             "optimizer",
                             groups.size(), targets.size()));
    for (std::size_t g = 0; g < targets.size(); ++g) {
      const auto group = groups.get(g).toGenericDict();
      if (!group.contains(Layout::signature_key))
        throw fail(fmt::format("it holds the state of {}, and this run's optimizer is {}: resume with the --optim "
                               "it was saved with, or train afresh without --resume_from_checkpoint",
                               saved_optimizer_name(group), Layout::name));
      const auto params = io::value_at(group, "params").toList();
      const auto& parameters = targets[g].params();
      if (params.size() != parameters.size())
        throw fail(fmt::format("its parameter group {} has {} parameters, this optimizer's {}: it was saved for "
                               "another model",
                               g, params.size(), parameters.size()));
      options.push_back(static_cast<const Options&>(targets[g].options()));
      Layout::read(group, options.back());
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        const auto key = params.get(i);
        if (!saved_states.contains(key)) continue;  // a parameter that has not stepped yet
        states.push_back({parameters[i], g, Layout::read(saved_states.at(key).toGenericDict(), parameters[i], options[g])});
      }
    }
  } catch (const c10::Error& error) {
    throw fail(fmt::format("{}; it was written for another optimizer or is damaged", error.what_without_backtrace()));
  }
  for (std::size_t g = 0; g < options.size(); ++g)
    static_cast<Options&>(optimizer.param_groups()[g].options()) = options[g];
  // Saved states replace the optimizer's, and an empty one (SGD's without a buffer) removes
  // it; a parameter without one keeps what it has (only Adagrad has any before its first
  // step: what it would start from).
  for (auto& [parameter, group, state] : states) {
    if (!state) {
      optimizer.state().erase(parameter.unsafeGetTensorImpl());
      continue;
    }
    auto& current = optimizer.state()[parameter.unsafeGetTensorImpl()];
    current = with_own_memory<Layout>(*state, current.get(), parameter, options[group]);
  }
}

// Runs `use(optimizer, layout)` with the optimizer as its type and that type's layout;
// false when torchtrain knows no Python layout for it (a user's own optimizer).
template <class Use>
bool with_layout(torch::optim::Optimizer& optimizer, Use&& use) {
  if (auto* adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer)) return use(*adamw, AdamWLayout{}), true;
  if (auto* sgd = dynamic_cast<torch::optim::SGD*>(&optimizer)) return use(*sgd, SGDLayout{}), true;
  if (auto* adagrad = dynamic_cast<torch::optim::Adagrad*>(&optimizer)) return use(*adagrad, AdagradLayout{}), true;
  if (auto* rmsprop = dynamic_cast<torch::optim::RMSprop*>(&optimizer)) return use(*rmsprop, RMSpropLayout{}), true;
  if (auto* adafactor = dynamic_cast<Adafactor*>(&optimizer)) return use(*adafactor, AdafactorLayout{}), true;
  return false;
}

}  // namespace torchtrain::optim::detail

namespace torchtrain::optim {

TORCHTRAIN_INLINE std::optional<c10::IValue> python_state_dict(const torch::optim::Optimizer& optimizer,
                                                               const std::vector<double>& initial_lrs) {
  if (const auto* multi_tensor = dynamic_cast<const MultiTensorAdamW*>(&optimizer))
    return detail::state_dict_in(multi_tensor->to_adamw(), detail::AdamWLayout{multi_tensor->fused()}, initial_lrs);
  std::optional<c10::IValue> state_dict;
  // with_layout takes a mutable optimizer to serve loading too; this only reads it.
  detail::with_layout(const_cast<torch::optim::Optimizer&>(optimizer), [&](const auto& typed, const auto& layout) {
    state_dict = detail::state_dict_in(typed, layout, initial_lrs);
  });
  return state_dict;
}

TORCHTRAIN_INLINE bool load_python_state_dict(torch::optim::Optimizer& optimizer, const c10::IValue& saved,
                                              std::string_view source) {
  if (auto* multi_tensor = dynamic_cast<MultiTensorAdamW*>(&optimizer)) {
    auto adamw = multi_tensor->to_adamw();
    detail::load_state_dict_in<detail::AdamWLayout>(adamw, saved, source);
    try {
      multi_tensor->load_from_adamw(adamw);
    } catch (const c10::Error& error) {
      throw FileError(fmt::format("cannot restore the optimizer from '{}': {}", source, error.what_without_backtrace()));
    }
    return true;
  }
  return detail::with_layout(optimizer, [&](auto& typed, const auto& layout) {
    detail::load_state_dict_in<std::remove_cvref_t<decltype(layout)>>(typed, saved, source);
  });
}

TORCHTRAIN_INLINE std::string optimizer_file_bytes(const torch::optim::Optimizer& optimizer,
                                                   const std::vector<double>& initial_lrs) {
  if (auto state_dict = python_state_dict(optimizer, initial_lrs)) return io::torch_save_bytes(*state_dict);
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  return io::archive_bytes(archive);
}

namespace detail {

// optimizer.pt is Python's state dict for the optimizers that have its layout, else the
// optimizer's own LibTorch archive.
template <class Bytes>
void load_optimizer_from(torch::optim::Optimizer& optimizer, const Bytes& bytes, std::string_view text,
                         std::string_view file_name) {
  const bool has_layout = dynamic_cast<MultiTensorAdamW*>(&optimizer) != nullptr ||
                          with_layout(optimizer, [](auto&, const auto&) {});
  if (has_layout) {
    load_python_state_dict(optimizer, io::torch_load_bytes(bytes, file_name), file_name);
    return;
  }
  io::read_archive(text, file_name, [&](auto& archive) { optimizer.load(archive); });
}

}  // namespace detail

TORCHTRAIN_INLINE void load_optimizer_file(torch::optim::Optimizer& optimizer, const std::string& bytes,
                                           std::string_view file_name) {
  detail::load_optimizer_from(optimizer, bytes, bytes, file_name);
}

TORCHTRAIN_INLINE void load_optimizer_file(torch::optim::Optimizer& optimizer, const io::SharedBytes& bytes,
                                           std::string_view file_name) {
  detail::load_optimizer_from(optimizer, bytes, bytes.view(), file_name);
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

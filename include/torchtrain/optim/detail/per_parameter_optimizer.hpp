// The common part of torchtrain's own optimizers: state by name, save and load, and the
// update of each parameter inside backward.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>
#include <torchtrain/optim/updates_in_backward.hpp>

namespace torchtrain::optim {

/// One parameter's optimizer state: its step count and its tensors, each under the key the
/// reference Python package gives it in `optimizer.state[p]` ("exp_avg", "state1", ...;
/// a nested entry such as GaLore's projector flattened to a name without dots).
struct NamedState : torch::optim::OptimizerCloneableParamState<NamedState> {
  std::int64_t step = 0;
  std::map<std::string, torch::Tensor> tensors;
};

/// One tensor an optimizer keeps in a parameter's state, as load() must find it.
struct StateTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  torch::Dtype dtype;
};

/// Numbers an optimizer keeps per parameter group across steps and checkpoints
/// (schedule-free's weight sum, ...), by the reference package's key names.
class GroupValues {
 public:
  virtual ~GroupValues() = default;

 protected:
  std::vector<std::map<std::string, double>> group_values_;
  friend const std::map<std::string, double>& group_values_of(const torch::optim::Optimizer&, std::size_t);
};

/// The numbers `optimizer` keeps for group `group` (none for an optimizer without GroupValues).
TORCHTRAIN_INLINE const std::map<std::string, double>& group_values_of(const torch::optim::Optimizer& optimizer,
                                                                       std::size_t group);

/// What PerParameterOptimizer does whatever its options type: the step, the updates inside
/// backward, save and load (compiled once, not for each options type).
class PerParameterOptimizerBase : public torch::optim::Optimizer, public UpdatesInBackward, public GroupValues {
 public:
  PerParameterOptimizerBase(const PerParameterOptimizerBase&) = delete;
  PerParameterOptimizerBase& operator=(const PerParameterOptimizerBase&) = delete;
  ~PerParameterOptimizerBase() override;

  torch::Tensor step(LossClosure closure = nullptr) override;

  /// From now on, updates each parameter inside backward, as soon as its gradient is
  /// accumulated, and frees that gradient (a post-accumulate-grad hook on each parameter).
  /// One step of the schedule per backward: this mode cannot accumulate gradients.
  void update_in_backward();
  bool updates_in_backward() const override { return in_backward_; }

  /// Writes each group's learning rate and numbers, and each parameter's step and tensors.
  void save(torch::serialize::OutputArchive& archive) const override;

  /// Reads what save() wrote for the same parameter groups, in the same order, each state as
  /// state_layout() declares it; reads it all before it changes anything, so that a bad
  /// archive leaves the optimizer as it was.
  void load(torch::serialize::InputArchive& archive) override;

 protected:
  PerParameterOptimizerBase(const std::vector<torch::optim::OptimizerParamGroup>& groups,
                            std::unique_ptr<torch::optim::OptimizerOptions> defaults);

  /// Updates `parameter` (of group `group`) from `gradient`, gradients off.
  virtual void update(std::size_t group, torch::Tensor& parameter, const torch::Tensor& gradient) = 0;
  /// Called once per step and group before its parameters' updates (not in backward mode).
  virtual void begin_step(std::size_t /*group*/) {}

  /// The state of `parameter`, made empty (step 0, no tensors) at its first use.
  NamedState& state_of(const torch::Tensor& parameter) {
    auto& slot = state_[parameter.unsafeGetTensorImpl()];
    if (!slot) slot = std::make_unique<NamedState>();
    return static_cast<NamedState&>(*slot);
  }
  /// Numbers a group keeps across steps and checkpoints (schedule-free's weight sum...).
  std::map<std::string, double>& group_values(std::size_t group) { return group_values_[group]; }

  /// The tensors a state of `parameter` (of group `group`) holds, with their shapes and
  /// types: each of them and no other. load() checks every state it reads against it, so
  /// that a damaged or foreign file, or a run resumed with other settings (another rank), is
  /// named at load rather than failing inside a later step. `saved`, the state read, tells
  /// variants apart (its step, AdamW8bit's 32-bit moments).
  /// nullopt, the default for an optimizer of your own: any state is taken as it is.
  virtual std::optional<std::vector<StateTensor>> state_layout(std::size_t /*group*/,
                                                               const torch::Tensor& /*parameter*/,
                                                               const NamedState& /*saved*/) const {
    return std::nullopt;
  }
  /// A fresh state's tensors for `parameter` (of group `group`): zeros of each tensor
  /// state_layout() declares, by name, on the parameter's device.
  std::map<std::string, torch::Tensor> fresh_tensors(std::size_t group, const torch::Tensor& parameter) const;

 private:
  // The optimizer's class, which save() writes and load() requires.
  std::string kind() const;

  struct UpdateHook;  // a torch::autograd::PostAccumulateGradHook that calls update()

  // Removes this optimizer's hooks, and only its own: a newer optimizer of the same
  // parameters may have put its hooks in their place.
  void detach_from_backward();

  bool in_backward_ = false;
  std::vector<std::pair<torch::Tensor, const UpdateHook*>> hooked_;
};

/// An optimizer that updates one parameter at a time from its gradient, keeps NamedState
/// per parameter and numbers per group, saves and loads both by name, and can do its
/// updates inside backward (UpdatesInBackward). `Options` is its own options type.
/// A subclass writes `update(group, parameter, gradient)`; one that must see a whole group
/// at once (a step count per group) also overrides `begin_step(group)`.
template <class Options>
class PerParameterOptimizer : public PerParameterOptimizerBase {
 public:
  PerParameterOptimizer(std::vector<torch::optim::OptimizerParamGroup> groups, const Options& defaults)
      : PerParameterOptimizerBase(groups, std::make_unique<Options>(defaults)) {
    // LibTorch 2 merges a group's own options into the defaults only for its own optimizer
    // types: ours would get the defaults (and lose, say, a group's weight decay).
    for (std::size_t g = 0; g < groups.size(); ++g)
      if (groups[g].has_options())
        static_cast<Options&>(param_groups_[g].options()) = static_cast<const Options&>(groups[g].options());
  }
  PerParameterOptimizer(const PerParameterOptimizer&) = delete;
  PerParameterOptimizer& operator=(const PerParameterOptimizer&) = delete;

 protected:
  Options& options(std::size_t group) { return static_cast<Options&>(param_groups_[group].options()); }
  const Options& options(std::size_t group) const {
    return static_cast<const Options&>(param_groups_[group].options());
  }
};

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <charconv>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include <c10/util/Exception.h>
#include <c10/util/Type.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <torchtrain/optim/detail/optimizer_closure.hpp>

namespace torchtrain::optim {

namespace detail {

// What is wrong with `tensors` against `layout`, as the end of a short sentence ("has no
// tensor 'state1'"; LibTorch-wrapped messages are cut at 200 characters), or "" when each
// tensor of the layout is there, of its shape and type, and no other.
TORCHTRAIN_INLINE std::string state_problem(const std::vector<StateTensor>& layout,
                                            const std::map<std::string, torch::Tensor>& tensors) {
  const auto described = [](torch::IntArrayRef shape, torch::Dtype dtype) {
    return fmt::format("[{}] {}", fmt::join(shape, ", "), c10::toString(dtype));
  };
  for (const auto& expected : layout) {
    const auto found = tensors.find(expected.name);
    if (found == tensors.end()) return fmt::format("has no tensor '{}'", expected.name);
    const auto& tensor = found->second;
    if (tensor.sizes() != torch::IntArrayRef(expected.shape) || tensor.scalar_type() != expected.dtype)
      return fmt::format("has '{}' {}, where this run's optimizer and settings keep {}", expected.name,
                         described(tensor.sizes(), tensor.scalar_type()), described(expected.shape, expected.dtype));
  }
  const auto keeps = [&](const std::string& name) {
    return std::any_of(layout.begin(), layout.end(), [&](const StateTensor& kept) { return kept.name == name; });
  };
  for (const auto& [name, tensor] : tensors)
    if (!keeps(name))
      return fmt::format("has a tensor '{}' {}, which this run's optimizer does not keep", name,
                         described(tensor.sizes(), tensor.scalar_type()));
  return "";
}

}  // namespace detail

TORCHTRAIN_INLINE const std::map<std::string, double>& group_values_of(const torch::optim::Optimizer& optimizer,
                                                                       std::size_t group) {
  static const std::map<std::string, double> none;
  const auto* values = dynamic_cast<const GroupValues*>(&optimizer);
  return values && group < values->group_values_.size() ? values->group_values_[group] : none;
}

struct PerParameterOptimizerBase::UpdateHook : torch::autograd::PostAccumulateGradHook {
  UpdateHook(PerParameterOptimizerBase& optimizer, std::size_t group) : optimizer(optimizer), group(group) {}
  void operator()(const torch::autograd::Variable& parameter) override {
    torch::NoGradGuard no_grad;
    auto target = parameter;  // shares the parameter's storage and its gradient
    if (!target.grad().defined()) return;
    optimizer.update(group, target, target.grad());
    target.mutable_grad().reset();
  }
  PerParameterOptimizerBase& optimizer;
  std::size_t group;
};

TORCHTRAIN_INLINE PerParameterOptimizerBase::PerParameterOptimizerBase(
    const std::vector<torch::optim::OptimizerParamGroup>& groups,
    std::unique_ptr<torch::optim::OptimizerOptions> defaults)
    : Optimizer(groups, std::move(defaults)) {
  group_values_.resize(param_groups_.size());
}

TORCHTRAIN_INLINE PerParameterOptimizerBase::~PerParameterOptimizerBase() { detach_from_backward(); }

TORCHTRAIN_INLINE torch::Tensor PerParameterOptimizerBase::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = torchtrain::detail::evaluate_closure(closure);
  if (in_backward_) return loss;  // each parameter was updated as backward reached it
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    begin_step(g);
    for (auto& parameter : param_groups_[g].params())
      if (parameter.grad().defined()) update(g, parameter, parameter.grad());
  }
  return loss;
}

TORCHTRAIN_INLINE void PerParameterOptimizerBase::update_in_backward() {
  if (in_backward_) return;
  in_backward_ = true;
  for (std::size_t g = 0; g < param_groups_.size(); ++g)
    for (auto& parameter : param_groups_[g].params()) {
      if (!parameter.requires_grad()) continue;
      auto hook = std::make_unique<UpdateHook>(*this, g);
      hooked_.emplace_back(parameter, hook.get());
      torch::autograd::impl::set_post_acc_grad_hooks(parameter, std::move(hook));
    }
}

TORCHTRAIN_INLINE void PerParameterOptimizerBase::save(torch::serialize::OutputArchive& archive) const {
  archive.write("optimizer", c10::IValue(kind()));
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    torch::serialize::OutputArchive group(archive.compilation_unit());
    group.write("lr", c10::IValue(param_groups_[g].options().get_lr()));
    group.write("parameters", c10::IValue(static_cast<std::int64_t>(param_groups_[g].params().size())));
    for (const auto& [name, value] : group_values_[g]) group.write("value_" + name, c10::IValue(value));
    const auto& params = param_groups_[g].params();
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto found = state_.find(params[i].unsafeGetTensorImpl());
      if (found == state_.end()) continue;  // a parameter that has not stepped yet
      const auto& state = static_cast<const NamedState&>(*found->second);
      torch::serialize::OutputArchive entry(archive.compilation_unit());
      entry.write("step", c10::IValue(state.step));
      for (const auto& [name, tensor] : state.tensors)
        if (tensor.defined()) entry.write("tensor_" + name, tensor, /*is_buffer=*/true);
      group.write("param_" + std::to_string(i), entry);
    }
    archive.write("group_" + std::to_string(g), group);
  }
}

TORCHTRAIN_INLINE void PerParameterOptimizerBase::load(torch::serialize::InputArchive& archive) {
  std::vector<double> rates;
  std::vector<std::map<std::string, double>> values(param_groups_.size());
  std::vector<std::pair<void*, std::unique_ptr<NamedState>>> states;
  c10::IValue value;
  TORCH_CHECK(archive.try_read("optimizer", value) && value.isString(),
              "it holds no state of torchtrain's own optimizers");
  TORCH_CHECK(value.toStringRef() == kind(), "it holds the state of ", value.toStringRef(),
              ", and this run's optimizer is ", kind(), ": resume with the --optim it was saved with");
  torch::serialize::InputArchive extra;
  TORCH_CHECK(!archive.try_read("group_" + std::to_string(param_groups_.size()), extra), "it has more than ",
              param_groups_.size(), " parameter groups, this optimizer's number: it was saved for another model");
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    torch::serialize::InputArchive group;
    TORCH_CHECK(archive.try_read("group_" + std::to_string(g), group), "it has no parameter group ", g,
                ": it was saved for another model or optimizer");
    const auto& params = param_groups_[g].params();
    group.read("parameters", value);
    TORCH_CHECK(value.toInt() == static_cast<std::int64_t>(params.size()), "its parameter group ", g, " has ",
                value.toInt(), " parameters, this optimizer's ", params.size(), ": it was saved for another model");
    group.read("lr", value);
    rates.push_back(value.toDouble());
    for (const auto& key : group.keys()) {
      if (key.starts_with("value_")) {
        group.read(key, value);
        values[g][key.substr(6)] = value.toDouble();
        continue;
      }
      if (!key.starts_with("param_")) continue;
      const std::string_view number = std::string_view(key).substr(6);
      std::size_t index = 0;
      const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), index);
      TORCH_CHECK(error == std::errc() && end == number.data() + number.size(), "its group ", g, " has an entry '",
                  key, "' that numbers no parameter: it is damaged");
      TORCH_CHECK(index < params.size(), "its group ", g, " has a state for parameter ", index, " of ",
                  params.size(), ": it was saved for another model");
      torch::serialize::InputArchive entry;
      group.read(key, entry);
      auto state = std::make_unique<NamedState>();
      entry.read("step", value);
      state->step = value.toInt();
      for (const auto& name : entry.keys()) {
        if (!name.starts_with("tensor_")) continue;
        torch::Tensor tensor;
        entry.read(name, tensor, /*is_buffer=*/true);
        state->tensors[name.substr(7)] = tensor.to(params[index].device());
      }
      if (const auto layout = state_layout(g, params[index], *state)) {
        const auto problem = detail::state_problem(*layout, state->tensors);
        TORCH_CHECK(problem.empty(), "its state of parameter ", index, " in group ", g, " ", problem);
      }
      states.emplace_back(params[index].unsafeGetTensorImpl(), std::move(state));
    }
  }
  state_.clear();
  for (std::size_t g = 0; g < param_groups_.size(); ++g) param_groups_[g].options().set_lr(rates[g]);
  group_values_ = std::move(values);
  for (auto& [key, state] : states) state_[key] = std::move(state);
}

TORCHTRAIN_INLINE std::map<std::string, torch::Tensor> PerParameterOptimizerBase::fresh_tensors(
    std::size_t group, const torch::Tensor& parameter) const {
  const auto layout = state_layout(group, parameter, NamedState());
  TORCH_CHECK(layout, kind(), " makes fresh states from a state_layout() it does not declare");
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& kept : *layout)
    tensors[kept.name] = torch::zeros(kept.shape, torch::TensorOptions().dtype(kept.dtype).device(parameter.device()));
  return tensors;
}

TORCHTRAIN_INLINE std::string PerParameterOptimizerBase::kind() const { return c10::demangle(typeid(*this).name()); }

TORCHTRAIN_INLINE void PerParameterOptimizerBase::detach_from_backward() {
  for (auto& [parameter, hook] : hooked_) {
    auto& installed = torch::autograd::impl::post_acc_grad_hooks(parameter);
    if (installed.get() == hook) installed.reset();
  }
  hooked_.clear();
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

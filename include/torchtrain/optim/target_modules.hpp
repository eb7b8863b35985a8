// Which weights a low-rank optimizer (GaLore, APOLLO) projects: --optim_target_modules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <torchtrain/core/config.hpp>

namespace torchtrain::optim {

/// The parameters a low-rank optimizer projects (`targets`) and all the others (`others`).
struct LowRankTargets {
  std::vector<torch::Tensor> targets;
  std::vector<torch::Tensor> others;
};

/// The weights of the torch::nn::Linear modules that `target_modules` names, chosen as the
/// Python Trainer's _setup_low_rank_optimizer and check_target_module_exists choose them,
/// and every other trainable parameter; both in named_parameters() order.
///
/// `target_modules` is a list of strings:
/// - one entry "all-linear" (or "all_linear"): every Linear module;
/// - one entry that is a plain module name (letters, digits, `_`, `.`, `-`), or several
///   entries: Python's list rule: a module is named when its dotted name equals an entry,
///   contains one, or fully matches one as a regular expression ("fc" names "fc1" and
///   "layers.0.fc2"; ["q_proj", "v_proj"] the attention projections of every layer);
/// - one entry with any other character: Python's string rule, a regular expression the
///   whole dotted name must match ("fc.*" names "fc1" but not "layers.0.fc1"; write
///   ".*fc.*" for those). The one difference from Python's string rule is that a plain
///   name also matches as a substring, as Python's one-element list does.
/// Modules other than torch::nn::Linear are never targets, whatever their names (their
/// parameters go to `others`), nor are Linear biases. A weight shared by several modules
/// belongs to the first name named_parameters() gives it, as in Python.
///
/// Throws ArgumentError naming --optim_target_modules when it is not set, when an entry is
/// not a valid regular expression, or when it names no Linear module.
TORCHTRAIN_INLINE LowRankTargets low_rank_targets(const torch::nn::Module& model,
                                                  const std::optional<std::vector<std::string>>& target_modules,
                                                  std::string_view optimizer_name);

}  // namespace torchtrain::optim

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <algorithm>
#include <cctype>
#include <regex>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/modules/linear.h>

#include <torchtrain/core/errors.hpp>

namespace torchtrain::optim::detail {

// Python's `re.fullmatch(pattern, name)`, with ECMAScript syntax (the same for the
// patterns module names need: `.*`, `|`, `(...)`, `[...]`, `\d`).
inline bool fully_matches(const std::string& pattern, const std::string& name, std::string_view optimizer_name) {
  try {
    return std::regex_match(name, std::regex(pattern));
  } catch (const std::regex_error& error) {
    throw ArgumentError(fmt::format("--optim_target_modules: '{}' is not a regular expression ({}); {} needs module "
                                    "names, one regular expression, or all-linear",
                                    pattern, error.what(), optimizer_name));
  }
}

// A name made only of what module names are made of, which a list entry matches as a substring.
inline bool is_plain_module_name(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

// The Python Trainer's check_target_module_exists. A list matches a module whose name is an
// entry, contains an entry, or fully matches an entry as a regular expression; a string
// (Python's `optim_target_modules="..."`, what its command line gives) only by the latter.
inline bool names_target(const std::vector<std::string>& patterns, bool one_pattern, const std::string& name,
                         std::string_view optimizer_name) {
  if (one_pattern) return fully_matches(patterns.front(), name, optimizer_name);
  for (const auto& pattern : patterns)
    if (name.find(pattern) != std::string::npos) return true;  // also the exact name
  for (const auto& pattern : patterns)
    if (fully_matches(pattern, name, optimizer_name)) return true;
  return false;
}

}  // namespace torchtrain::optim::detail

namespace torchtrain::optim {

TORCHTRAIN_INLINE LowRankTargets low_rank_targets(const torch::nn::Module& model,
                                                  const std::optional<std::vector<std::string>>& target_modules,
                                                  std::string_view optimizer_name) {
  if (!target_modules || target_modules->empty())
    throw ArgumentError(fmt::format("--optim {} needs --optim_target_modules: the Linear modules to project, as "
                                    "names (e.g. q_proj v_proj), one regular expression, or all-linear",
                                    optimizer_name));
  const auto& patterns = *target_modules;
  const bool one_pattern = patterns.size() == 1 && !detail::is_plain_module_name(patterns.front());
  const bool all_linear = patterns.size() == 1 && (patterns.front() == "all-linear" || patterns.front() == "all_linear");

  std::unordered_set<std::string> target_names;
  auto consider = [&](const torch::nn::Module& module, const std::string& name) {
    if (!dynamic_cast<const torch::nn::LinearImpl*>(&module)) return;
    if (all_linear || detail::names_target(patterns, one_pattern, name, optimizer_name))
      target_names.insert(name.empty() ? "weight" : name + ".weight");
  };
  consider(model, "");  // the model itself (named_modules would need it in a shared_ptr)
  for (const auto& module : model.named_modules(/*name_prefix=*/"", /*include_self=*/false))
    consider(*module.value(), module.key());
  if (target_names.empty())
    throw ArgumentError(fmt::format("--optim_target_modules {} names no torch::nn::Linear module of the model, so {} "
                                    "has nothing to project; give Linear module names, a regular expression their "
                                    "full dotted names match, or all-linear",
                                    fmt::join(patterns, " "), optimizer_name));

  LowRankTargets chosen;
  std::unordered_set<const void*> seen;  // a shared weight counts once, under its first name
  for (const auto& parameter : model.named_parameters(/*recurse=*/true)) {
    if (!seen.insert(parameter.value().unsafeGetTensorImpl()).second) continue;
    if (!parameter.value().requires_grad()) continue;
    (target_names.contains(parameter.key()) ? chosen.targets : chosen.others).push_back(parameter.value());
  }
  return chosen;
}

}  // namespace torchtrain::optim

#endif  // TORCHTRAIN_DEFINITIONS

// PolicySet: the policies of a Trainer, one per category, found by category in any order and checked against their concepts.
#pragma once

#include <torchtrain/policies/accumulation/accumulation.hpp>
#include <torchtrain/policies/accumulation/accumulation_policy.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/checkpointer_policy.hpp>
#include <torchtrain/policies/checkpointer/sync_checkpoint.hpp>
#include <torchtrain/policies/detail/find_policy.hpp>
#include <torchtrain/policies/logger/logger_policy.hpp>
#include <torchtrain/policies/logger/report_to.hpp>
#include <torchtrain/policies/precision/fp32.hpp>
#include <torchtrain/policies/precision/precision_policy.hpp>
#include <torchtrain/policies/strategy/single_device.hpp>
#include <torchtrain/policies/strategy/strategy_policy.hpp>

namespace torchtrain {

/// The policies given to `Trainer<Policies...>`, resolved by category; a category not
/// given takes its default. A type that is no policy, two policies of one category, or a
/// policy that lacks a member of its category's concept fail to compile with a message
/// naming them (the policy in the instantiation line above the message).
template <class... Policies>
struct PolicySet {
  static_assert((detail::require_policy<Policies>() && ...));
  using precision = detail::find_policy_t<category::precision, FP32, Policies...>;
  using accumulation = detail::find_policy_t<category::accumulation, AccumFromArguments, Policies...>;
  using strategy = detail::find_policy_t<category::strategy, SingleDevice, Policies...>;
  using checkpointer = detail::find_policy_t<category::checkpointer, SyncCheckpoint, Policies...>;
  using logger = detail::find_policy_t<category::logger, ReportTo, Policies...>;
  static_assert(detail::check_precision_policy<precision>());
  static_assert(detail::check_accumulation_policy<accumulation>());
  static_assert(detail::check_strategy_policy<strategy>());
  static_assert(detail::check_checkpointer_policy<checkpointer>());
  static_assert(detail::check_logger_policy<logger>());
};

}  // namespace torchtrain

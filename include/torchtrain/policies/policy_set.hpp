// PolicySet: the policies of a Trainer, one per category, found by category in any order.
#pragma once

#include <torchtrain/policies/accumulation/accumulation.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/checkpointer/no_checkpoint.hpp>
#include <torchtrain/policies/checkpointer/sync_checkpoint.hpp>
#include <torchtrain/policies/detail/find_policy.hpp>
#include <torchtrain/policies/logger/report_to.hpp>
#include <torchtrain/policies/precision/fp32.hpp>
#include <torchtrain/policies/strategy/single_device.hpp>

namespace torchtrain {

/// The policies given to `Trainer<Policies...>`, resolved by category; a category not
/// given takes its default. A type that is no policy, or two policies of one category,
/// fail to compile with a message naming them.
template <class... Policies>
struct PolicySet {
  static_assert((detail::require_policy<Policies>() && ...));
  using precision = detail::find_policy_t<category::precision, FP32, Policies...>;
  using accumulation = detail::find_policy_t<category::accumulation, AccumFromArguments, Policies...>;
  using strategy = detail::find_policy_t<category::strategy, SingleDevice, Policies...>;
  using checkpointer = detail::find_policy_t<category::checkpointer, SyncCheckpoint, Policies...>;
  using logger = detail::find_policy_t<category::logger, ReportTo, Policies...>;
};

}  // namespace torchtrain

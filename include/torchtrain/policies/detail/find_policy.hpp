// Finds the one policy of a category in a policy list, with Boost.Hana.
#pragma once

#include <boost/hana/filter.hpp>
#include <boost/hana/front.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

#include <torchtrain/policies/category.hpp>

namespace torchtrain::detail {

// Left incomplete on purpose: when two policies share a category, the compiler error
// names this template with the category and the offending policies as its arguments.
template <class Category, class... Policies>
struct two_policies_of_one_category;

// Left incomplete on purpose: the error for a type that is no policy names it here.
template <class T>
struct is_not_a_torchtrain_policy;

template <class T>
constexpr bool require_policy() {
  static_assert(Policy<T>,
                "torchtrain: Trainer got a type that is not a policy (it is named in "
                "'is_not_a_torchtrain_policy<T>' below). A policy declares its category with "
                "`using torchtrain_category = torchtrain::category::precision;` (or accumulation, "
                "strategy, checkpointer, logger)");
  if constexpr (!Policy<T>) return sizeof(is_not_a_torchtrain_policy<T>) == 0;
  return true;
}

template <class Category, class... Found>
constexpr bool at_most_one_policy() {
  static_assert(sizeof...(Found) <= 1,
                "torchtrain: Trainer got two policies of one category; keep one of them "
                "(the category and the policies are named in "
                "'two_policies_of_one_category<Category, Policies...>' below)");
  if constexpr (sizeof...(Found) > 1)
    return sizeof(two_policies_of_one_category<Category, Found...>) == 0;
  return true;
}

template <class Category, class Default, class... Policies>
constexpr auto find_policy() {
  namespace hana = boost::hana;
  constexpr auto found = hana::filter(hana::tuple_t<Policies...>, [](auto policy) {
    using P = typename decltype(policy)::type;
    return hana::bool_c<std::is_same_v<typename P::torchtrain_category, Category>>;
  });
  return hana::unpack(found, [](auto... policy) {
    static_assert(at_most_one_policy<Category, typename decltype(policy)::type...>());
    if constexpr (sizeof...(policy) == 0)
      return hana::type_c<Default>;
    else
      return (policy, ...);
  });
}

/// The policy of `Category` among `Policies`, or `Default` when none is given.
template <class Category, class Default, class... Policies>
using find_policy_t = typename decltype(find_policy<Category, Default, Policies...>())::type;

}  // namespace torchtrain::detail

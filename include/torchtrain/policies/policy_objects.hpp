// with_policies and PolicyObjects: a Trainer's policies as values, the configured ones given and the others default-constructed.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <torchtrain/policies/category.hpp>

namespace torchtrain {

/// Configured policy objects for a Trainer, each of a type the Trainer names:
/// `Trainer<BF16, CsvLogger> trainer(with_policies(CsvLogger(dir)), model, args, data)`.
template <class... Given>
struct PolicyValues {
  std::tuple<Given...> values;
};

template <class... Given>
  requires(Policy<std::remove_cvref_t<Given>> && ...)
PolicyValues<std::remove_cvref_t<Given>...> with_policies(Given&&... given) {
  return {{std::forward<Given>(given)...}};
}

namespace detail {

// Left incomplete on purpose: a value given for a category whose policy is another type
// names both here.
template <class Given, class PolicyOfItsCategory>
struct given_policy_is_not_the_trainers;

template <class Set, class Given>
constexpr bool given_policy_belongs() {
  using Category = typename Given::torchtrain_category;
  using Expected = std::conditional_t<
      std::is_same_v<Category, category::precision>, typename Set::precision,
      std::conditional_t<std::is_same_v<Category, category::accumulation>, typename Set::accumulation,
                         std::conditional_t<std::is_same_v<Category, category::strategy>, typename Set::strategy,
                                            std::conditional_t<std::is_same_v<Category, category::checkpointer>,
                                                               typename Set::checkpointer, typename Set::logger>>>>;
  static_assert(std::is_same_v<Given, Expected>,
                "torchtrain: with_policies(...) got a policy of a category for which the Trainer has another "
                "policy (both named in 'given_policy_is_not_the_trainers<Given, Trainer's>' below): name it in "
                "Trainer<...>");
  if constexpr (!std::is_same_v<Given, Expected>) return sizeof(given_policy_is_not_the_trainers<Given, Expected>) == 0;
  return true;
}

// The value of type T among `given`, moved out, else a default-constructed T.
template <class T, class... Given>
T take_or_default(std::tuple<Given...>& given) {
  if constexpr ((std::is_same_v<T, Given> || ...)) {
    static_assert(((std::is_same_v<T, Given> ? 1 : 0) + ...) == 1,
                  "torchtrain: with_policies(...) got two values of one policy type; give one");
    return std::move(std::get<T>(given));
  } else {
    return T();
  }
}

}  // namespace detail

/// The policy objects of one Trainer: one per category of `Set` (a PolicySet).
template <class Set>
struct PolicyObjects {
  typename Set::precision precision;
  typename Set::accumulation accumulation;
  typename Set::strategy strategy;
  typename Set::checkpointer checkpointer;
  typename Set::logger logger;

  template <class... Given>
  explicit PolicyObjects(PolicyValues<Given...> given)
      : precision(detail::take_or_default<typename Set::precision>(given.values)),
        accumulation(detail::take_or_default<typename Set::accumulation>(given.values)),
        strategy(detail::take_or_default<typename Set::strategy>(given.values)),
        checkpointer(detail::take_or_default<typename Set::checkpointer>(given.values)),
        logger(detail::take_or_default<typename Set::logger>(given.values)) {
    static_assert((detail::given_policy_belongs<Set, Given>() && ...));
  }
};

}  // namespace torchtrain

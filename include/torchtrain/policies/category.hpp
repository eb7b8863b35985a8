// The policy categories a Trainer is composed of, and the concept every policy satisfies.
#pragma once

#include <type_traits>

namespace torchtrain {

/// Category tags. A policy names its category with a nested
/// `using torchtrain_category = category::precision;` (or another tag below).
namespace category {
struct precision {};     // number formats of forward, backward and optimizer state
struct accumulation {};  // how many micro-batches make one optimizer step
struct strategy {};      // where the model lives and how gradients are synchronized
struct checkpointer {};  // what is written when the trainer saves
struct logger {};        // where logs go
}  // namespace category

namespace detail {
template <class Tag>
inline constexpr bool is_category =
    std::is_same_v<Tag, category::precision> || std::is_same_v<Tag, category::accumulation> ||
    std::is_same_v<Tag, category::strategy> || std::is_same_v<Tag, category::checkpointer> ||
    std::is_same_v<Tag, category::logger>;
}  // namespace detail

/// A type is a Policy when it names one of the categories above.
template <class T>
concept Policy = requires { typename T::torchtrain_category; } &&
                 detail::is_category<typename T::torchtrain_category>;

/// A Policy of the given category.
template <class T, class Category>
concept PolicyOf = Policy<T> && std::is_same_v<typename T::torchtrain_category, Category>;

}  // namespace torchtrain

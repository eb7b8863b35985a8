// TORCHTRAIN_REFLECT: Boost.Hana reflection for structs of any number of fields.
#pragma once

#include <boost/hana/pair.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/tuple.hpp>

/// Makes the listed fields of `TYPE` a Boost.Hana Struct, like BOOST_HANA_ADAPT_STRUCT,
/// which stops at 39 fields. Use it at global scope:
///
///     TORCHTRAIN_REFLECT(my::DataArguments, path, max_length, shuffle);
#define TORCHTRAIN_REFLECT(TYPE, ...)                                                       \
  namespace boost::hana {                                                                   \
  template <>                                                                               \
  struct accessors_impl<TYPE> {                                                             \
    static constexpr auto apply() {                                                         \
      return ::boost::hana::make_tuple(TORCHTRAIN_DETAIL_FOR_EACH(TORCHTRAIN_DETAIL_FIELD, __VA_ARGS__)); \
    }                                                                                       \
  };                                                                                        \
  }                                                                                         \
  static_assert(true, "")

// A (name, accessor) pair, as Hana's own adaptation makes.
#define TORCHTRAIN_DETAIL_FIELD(member)                                                     \
  ::boost::hana::make_pair(BOOST_HANA_STRING(#member),                                      \
                           [](auto&& object) -> decltype(auto) {                            \
                             return (static_cast<decltype(object)&&>(object).member);       \
                           })

// FOR_EACH over up to 256 arguments, comma-separated, by rescanning (C++20 __VA_OPT__).
#define TORCHTRAIN_DETAIL_PARENS ()
#define TORCHTRAIN_DETAIL_EXPAND(...) TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND3(...) TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND2(...) TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND1(...) __VA_ARGS__
#define TORCHTRAIN_DETAIL_FOR_EACH(macro, ...) \
  __VA_OPT__(TORCHTRAIN_DETAIL_EXPAND(TORCHTRAIN_DETAIL_FOR_EACH_STEP(macro, __VA_ARGS__)))
#define TORCHTRAIN_DETAIL_FOR_EACH_STEP(macro, first, ...) \
  macro(first) __VA_OPT__(, TORCHTRAIN_DETAIL_FOR_EACH_AGAIN TORCHTRAIN_DETAIL_PARENS(macro, __VA_ARGS__))
#define TORCHTRAIN_DETAIL_FOR_EACH_AGAIN() TORCHTRAIN_DETAIL_FOR_EACH_STEP

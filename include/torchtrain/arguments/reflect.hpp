// TORCHTRAIN_REFLECT: Boost.Hana reflection for structs of any number of fields, with a
// help text per field.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include <boost/hana/pair.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/tuple.hpp>

namespace torchtrain {

/// The help texts of a struct's fields, as (field name, text) pairs. TORCHTRAIN_REFLECT
/// specializes it; a struct reflected otherwise (BOOST_HANA_ADAPT_STRUCT) has none.
template <class T>
struct reflected_help {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 0> texts{};
};

/// The help text of the field `name` of T (for `--help` and documentation tables); empty
/// when T gives none.
template <class T>
constexpr std::string_view field_help(std::string_view name) {
  for (const auto& [field, text] : reflected_help<T>::texts)
    if (field == name) return text;
  return {};
}

}  // namespace torchtrain

/// Makes the listed fields of `TYPE` a Boost.Hana Struct, like BOOST_HANA_ADAPT_STRUCT
/// (which stops at 39 fields). A field is listed by its name, or as `(name, "help text")`
/// to give it a help text for `--help` and the documentation. Use it at global scope:
///
///     TORCHTRAIN_REFLECT(my::DataArguments, (path, "the CSV file to train on"), max_length);
#define TORCHTRAIN_REFLECT(TYPE, ...)                                                                   \
  namespace boost::hana {                                                                               \
  template <>                                                                                           \
  struct accessors_impl<TYPE> {                                                                         \
    static constexpr auto apply() {                                                                     \
      return ::boost::hana::make_tuple(TORCHTRAIN_DETAIL_FOR_EACH(TORCHTRAIN_DETAIL_FIELD, __VA_ARGS__)); \
    }                                                                                                   \
  };                                                                                                    \
  }                                                                                                     \
  template <>                                                                                           \
  struct torchtrain::reflected_help<TYPE> {                                                             \
    static constexpr ::std::pair<::std::string_view, ::std::string_view> texts[] = {                    \
        TORCHTRAIN_DETAIL_FOR_EACH(TORCHTRAIN_DETAIL_HELP, __VA_ARGS__)};                               \
  };                                                                                                    \
  static_assert(true, "")

// A (name, accessor) pair, as Hana's own adaptation makes, for `member` or `(member, help)`.
#define TORCHTRAIN_DETAIL_FIELD(entry) \
  TORCHTRAIN_DETAIL_CAT(TORCHTRAIN_DETAIL_FIELD_, TORCHTRAIN_DETAIL_IS_PARENTHESIZED(entry))(entry)
#define TORCHTRAIN_DETAIL_FIELD_0(member)                                                   \
  ::boost::hana::make_pair(BOOST_HANA_STRING(#member),                                      \
                           [](auto&& object) -> decltype(auto) {                            \
                             return (static_cast<decltype(object)&&>(object).member);       \
                           })
// Expands the name out of the parentheses before FIELD_0 turns it into a string.
#define TORCHTRAIN_DETAIL_FIELD_1(entry) TORCHTRAIN_DETAIL_FIELD_NAMED(TORCHTRAIN_DETAIL_FIRST entry)
#define TORCHTRAIN_DETAIL_FIELD_NAMED(member) TORCHTRAIN_DETAIL_FIELD_0(member)
#define TORCHTRAIN_DETAIL_FIRST(member, help) member

// A (name, help text) pair; the text is empty for a bare `member`.
#define TORCHTRAIN_DETAIL_HELP(entry) \
  TORCHTRAIN_DETAIL_CAT(TORCHTRAIN_DETAIL_HELP_, TORCHTRAIN_DETAIL_IS_PARENTHESIZED(entry))(entry)
#define TORCHTRAIN_DETAIL_HELP_0(member) ::std::pair<::std::string_view, ::std::string_view>{#member, ""}
#define TORCHTRAIN_DETAIL_HELP_1(entry) TORCHTRAIN_DETAIL_HELP_PAIR entry
#define TORCHTRAIN_DETAIL_HELP_PAIR(member, help) ::std::pair<::std::string_view, ::std::string_view>{#member, help}

// 1 when `entry` is in parentheses, else 0: only then does PROBE entry call PROBE.
#define TORCHTRAIN_DETAIL_IS_PARENTHESIZED(entry) TORCHTRAIN_DETAIL_SECOND_OF(TORCHTRAIN_DETAIL_PROBE entry, 0, ~)
#define TORCHTRAIN_DETAIL_PROBE(...) ~, 1
#define TORCHTRAIN_DETAIL_SECOND_OF(...) TORCHTRAIN_DETAIL_SECOND(__VA_ARGS__)
#define TORCHTRAIN_DETAIL_SECOND(first, second, ...) second
#define TORCHTRAIN_DETAIL_CAT(a, b) TORCHTRAIN_DETAIL_CAT_(a, b)
#define TORCHTRAIN_DETAIL_CAT_(a, b) a##b

// FOR_EACH over up to 256 arguments, comma-separated, by rescanning (C++20 __VA_OPT__).
#define TORCHTRAIN_DETAIL_PARENS ()
#define TORCHTRAIN_DETAIL_EXPAND(...) TORCHTRAIN_DETAIL_EXPAND4(TORCHTRAIN_DETAIL_EXPAND4(TORCHTRAIN_DETAIL_EXPAND4(TORCHTRAIN_DETAIL_EXPAND4(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND4(...) TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(TORCHTRAIN_DETAIL_EXPAND3(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND3(...) TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(TORCHTRAIN_DETAIL_EXPAND2(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND2(...) TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(TORCHTRAIN_DETAIL_EXPAND1(__VA_ARGS__))))
#define TORCHTRAIN_DETAIL_EXPAND1(...) __VA_ARGS__
#define TORCHTRAIN_DETAIL_FOR_EACH(macro, ...) \
  __VA_OPT__(TORCHTRAIN_DETAIL_EXPAND(TORCHTRAIN_DETAIL_FOR_EACH_STEP(macro, __VA_ARGS__)))
#define TORCHTRAIN_DETAIL_FOR_EACH_STEP(macro, first, ...) \
  macro(first) __VA_OPT__(, TORCHTRAIN_DETAIL_FOR_EACH_AGAIN TORCHTRAIN_DETAIL_PARENS(macro, __VA_ARGS__))
#define TORCHTRAIN_DETAIL_FOR_EACH_AGAIN() TORCHTRAIN_DETAIL_FOR_EACH_STEP

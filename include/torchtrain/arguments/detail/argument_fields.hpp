// ArgumentField: a field of a reflected argument struct seen without its type, so that the
// parser, the JSON reader and --help are compiled once, and a program compiles only the
// list of its own struct's fields.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json_fwd.hpp>

#include <torchtrain/arguments/reflect.hpp>
#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/detail/printable.hpp>
#include <torchtrain/detail/reflection.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/io/json_field.hpp>

namespace torchtrain::detail {

template <class T>
constexpr bool is_flag_like = std::is_same_v<T, bool> || std::is_same_v<T, std::optional<bool>>;

// Python's fields typed `dict | str` (lr_scheduler_kwargs, accelerator_config, ...) and
// `str | bool` are strings here, holding the JSON text of what Python wrote.
template <class T>
concept StringField = std::is_same_v<T, std::string> || std::is_same_v<T, std::optional<std::string>>;

/// How flags, JSON files and --help read and write a field of one type: one table per
/// type (FieldOf<T>::type), the usual types' compiled once in the library.
struct FieldType {
  std::string (*type_name)();                   // for --help and messages: "int or None"
  std::string (*python_repr)(const void* field);  // the value as Python writes it
  // Sets the field from the text of flag --`flag`; throws ArgumentError naming the flag
  // and the type expected.
  void (*set_from_text)(void* field, std::string_view flag, std::string_view text);
  // Sets a list field from several words, each itself a list separated by commas.
  void (*set_from_words)(void* field, std::string_view flag, const std::vector<std::string_view>& words);
  // Sets the field from a JSON value; throws FileError naming `source` and `key`.
  void (*set_from_json)(void* field, const nlohmann::json& value, std::string_view source, std::string_view key);
  bool flag_like;  // bool or optional bool: a bare --flag is true, and --no_flag false
  bool list;       // a list or optional list: several words; in JSON, a lone value is a list of one
  bool text;       // a string or optional string: in JSON, any other value is taken as its JSON text
};

/// One reflected field of an argument struct: its name, its help text (TORCHTRAIN_REFLECT),
/// where it is, and its type's table.
struct ArgumentField {
  std::string_view name;
  std::string_view help;
  void* value;
  const FieldType* type;
};

// Why `text` is no T, when a number is wrong for a reason its type name does not say: a
// negative count, or a number beyond the type's range. Empty when the type says it all.
template <class T>
std::string why_not_a(std::string_view text) {
  if constexpr (is_optional<T>::value) {
    return why_not_a<typename T::value_type>(text);
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (std::is_unsigned_v<T> && text.starts_with('-'))
      return fmt::format(" (a whole number from 0 to {}, never negative)", std::numeric_limits<T>::max());
    T value{};
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc::result_out_of_range) return "";
    if constexpr (std::is_integral_v<T>)
      return fmt::format(" (a whole number from {} to {})", std::numeric_limits<T>::lowest(),
                         std::numeric_limits<T>::max());
    else
      return fmt::format(" (a number of at most {:.2g} in magnitude)", static_cast<double>(std::numeric_limits<T>::max()));
  }
  return "";
}

template <class T>
void assign_flag(T& field, std::string_view name, std::string_view text) {
  auto value = parse_value<T>(text);
  if (!value)
    throw ArgumentError(fmt::format("--{} expects {}{}, got '{}'", name, type_name<T>(), why_not_a<T>(text),
                                    torchtrain::detail::printable(text)));
  field = std::move(*value);
}

/// FieldType's functions for fields of type T.
template <class T>
struct FieldOf {
  static std::string type_name();
  static std::string python_repr(const void* field);
  static void set_from_text(void* field, std::string_view flag, std::string_view text);
  static void set_from_words(void* field, std::string_view flag, const std::vector<std::string_view>& words);
  static void set_from_json(void* field, const nlohmann::json& value, std::string_view source, std::string_view key);
  static const FieldType type;
};

template <class T>
std::string FieldOf<T>::type_name() {
  return detail::type_name<T>();
}

template <class T>
std::string FieldOf<T>::python_repr(const void* field) {
  return detail::python_repr(*static_cast<const T*>(field));
}

template <class T>
void FieldOf<T>::set_from_text(void* field, std::string_view flag, std::string_view text) {
  assign_flag(*static_cast<T*>(field), flag, text);
}

// One word is read as a whole, so that an optional list also takes "None".
template <class T>
void FieldOf<T>::set_from_words(void* field, std::string_view flag, const std::vector<std::string_view>& words) {
  if constexpr (ListField<T>) {
    if (words.size() == 1) return set_from_text(field, flag, words.front());
    using List = std::conditional_t<is_optional<T>::value, typename T::value_type, T>;
    List items;
    for (auto word : words) {
      List part;
      assign_flag(part, flag, word);
      items.insert(items.end(), part.begin(), part.end());
    }
    *static_cast<T*>(field) = std::move(items);
  } else {
    set_from_text(field, flag, words.front());
  }
}

template <class T>
void FieldOf<T>::set_from_json(void* field, const nlohmann::json& value, std::string_view source, std::string_view key) {
  io::value_from_json(value, *static_cast<T*>(field), source, key);
}

template <class T>
const FieldType FieldOf<T>::type{&FieldOf::type_name,      &FieldOf::python_repr,   &FieldOf::set_from_text,
                                 &FieldOf::set_from_words, &FieldOf::set_from_json, is_flag_like<T>,
                                 ListField<T>,             StringField<T>};

// The field types compiled once in the library: those of TrainingArguments, and the
// other usual ones. A program compiles the tables of other types (its own enums) itself.
#define TORCHTRAIN_DETAIL_LIBRARY_FIELD_TYPES(X)                                                                  \
  X(bool) X(int) X(std::int64_t) X(std::uint64_t) X(float) X(double) X(std::string) X(std::optional<bool>)        \
  X(std::optional<int>) X(std::optional<std::int64_t>) X(std::optional<std::uint64_t>) X(std::optional<float>)    \
  X(std::optional<double>) X(std::optional<std::string>) X(std::vector<int>) X(std::vector<std::int64_t>)         \
  X(std::vector<double>) X(std::vector<std::string>) X(std::optional<std::vector<std::string>>)                  \
  X(IntervalStrategy) X(SaveStrategy) X(SchedulerType) X(TrainSamplingStrategy) X(OptimizerNames) X(LogLevel)

#if !TORCHTRAIN_HEADER_ONLY
#define TORCHTRAIN_DETAIL_EXTERN_FIELD_TYPE(T) extern template struct FieldOf<T>;
TORCHTRAIN_DETAIL_LIBRARY_FIELD_TYPES(TORCHTRAIN_DETAIL_EXTERN_FIELD_TYPE)
#undef TORCHTRAIN_DETAIL_EXTERN_FIELD_TYPE
#endif

/// The reflected fields of `object`, in order; their pointers write into `object`.
template <class Struct>
std::vector<ArgumentField> argument_fields(Struct& object) {
  static_assert(reflects_every_field<Struct>(),
                "torchtrain: list every data member of an argument struct in its TORCHTRAIN_REFLECT (or "
                "BOOST_HANA_ADAPT_STRUCT), or a field would have no flag and no JSON key");
  std::vector<ArgumentField> fields;
  for_each_field(object, [&](std::string_view name, auto& field) {
    using T = std::remove_cvref_t<decltype(field)>;
    fields.push_back({name, field_help<Struct>(name), &field, &FieldOf<T>::type});
  });
  return fields;
}

#if !TORCHTRAIN_HEADER_ONLY  // TrainingArguments' reflection is compiled in the library only
extern template std::vector<ArgumentField> argument_fields<TrainingArguments>(TrainingArguments&);
#endif

/// An argument struct seen without its type: its fields, and the copies that let a JSON
/// file change all of a struct or nothing.
struct ArgumentStruct {
  void* object;
  std::vector<ArgumentField> (*fields)(void* object);
  std::shared_ptr<void> (*copy)(const void* object);
  void (*take)(void* object, void* copy);  // moves a copy into the struct
};

// ArgumentStruct's functions for one struct type.
template <class Struct>
struct ArgumentStructOf {
  static std::vector<ArgumentField> fields(void* object) { return argument_fields(*static_cast<Struct*>(object)); }
  static std::shared_ptr<void> copy(const void* object);
  static void take(void* object, void* copy);
};

template <class Struct>
std::shared_ptr<void> ArgumentStructOf<Struct>::copy(const void* object) {
  return std::make_shared<Struct>(*static_cast<const Struct*>(object));
}

template <class Struct>
void ArgumentStructOf<Struct>::take(void* object, void* copy) {
  *static_cast<Struct*>(object) = std::move(*static_cast<Struct*>(copy));
}

#if !TORCHTRAIN_HEADER_ONLY
extern template struct ArgumentStructOf<TrainingArguments>;
#endif

template <class Struct>
ArgumentStruct argument_struct(Struct& object) {
  using Of = ArgumentStructOf<Struct>;
  return {&object, &Of::fields, &Of::copy, &Of::take};
}

}  // namespace torchtrain::detail

#ifdef TORCHTRAIN_COMPILING_LIBRARY

namespace torchtrain::detail {
#define TORCHTRAIN_DETAIL_FIELD_TYPE(T) template struct FieldOf<T>;
TORCHTRAIN_DETAIL_LIBRARY_FIELD_TYPES(TORCHTRAIN_DETAIL_FIELD_TYPE)
#undef TORCHTRAIN_DETAIL_FIELD_TYPE
template std::vector<ArgumentField> argument_fields<TrainingArguments>(TrainingArguments&);
template struct ArgumentStructOf<TrainingArguments>;
}  // namespace torchtrain::detail

#endif  // TORCHTRAIN_COMPILING_LIBRARY

// fmt's compiled part, for torchtrain::compiled. Without FMT_HEADER_ONLY, fmt's headers
// declare its formatting engine (vformat, the float and locale code) and expect a library to
// define it; Debian's libfmt may be another version than the fmt headers LibTorch's include
// folder puts first, so the library is compiled here, from those same headers. A program
// then compiles only the argument packing of each `fmt::format` call.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
// The templates that fmt's headers declare `extern template` or leave undefined outside
// format-inl.h; the non-template functions are defined by the include above.
template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template auto decimal_point_impl(locale_ref) -> wchar_t;
}  // namespace detail
FMT_END_NAMESPACE

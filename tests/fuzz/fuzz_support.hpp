// What every fuzz reader shares: a scratch folder of this process, files written from the
// fuzz bytes, and the rule that only a reader's documented error types may escape it.
#pragma once

#include <cxxabi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

#include <torchtrain/core/errors.hpp>

namespace fuzz {

/// A folder of this process, in memory where the machine has /dev/shm (the readers open
/// files, and a disk would cost most of each run); removed when the process ends normally.
inline const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    auto made = base / ("torchtrain-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(made);
    std::filesystem::create_directories(made);
    std::atexit([] { std::error_code ignored; std::filesystem::remove_all(scratch_folder(), ignored); });
    return made;
  }();
  return folder;
}

inline void write_bytes(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", file.c_str());
    std::abort();
  }
}

inline std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

[[noreturn]] inline void fail(std::string_view what, std::string_view message) {
  std::fprintf(stderr, "\n=== fuzz harness: %.*s\n%.*s\n===\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(message.size()), message.data());
  std::abort();  // libFuzzer reports a deadly signal and keeps the input
}

inline std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                   &std::free);
  return status == 0 ? name.get() : type.name();
}

// A message longer than this quotes too much of the input (issue 26 saw a 64 KiB dump).
inline constexpr std::size_t longest_message = 1000;

/// Runs `read`. An exception of one of `Documented` (the reader's documented types) is the
/// reader refusing the input, and must say where: its message contains one of `names`
/// (the file, or a flag's "--") and is not a dump of the input. Anything else escaping,
/// or a documented error that breaks those rules, aborts: libFuzzer reports it as a crash.
template <class... Documented, class Read>
void expect_only(Read&& read, std::initializer_list<std::string_view> names) {
  try {
    read();
  } catch (const std::exception& error) {
    const bool documented = (... || (dynamic_cast<const Documented*>(&error) != nullptr));
    const std::string_view message = error.what();
    const std::string type = type_name(typeid(error));
    if (!documented) fail("an undocumented exception escaped the reader: " + type, message);
    bool named = false;
    for (auto name : names) named = named || message.find(name) != std::string_view::npos;
    if (!named) fail(type + " names neither the file nor the flag at fault", message);
    if (message.size() > longest_message)
      fail(type + " message of " + std::to_string(message.size()) + " bytes", message.substr(0, 400));
  } catch (...) {
    fail("a non-standard exception escaped the reader", "(not a std::exception)");
  }
}

}  // namespace fuzz

// record_error: a failed rank's message, written where torchrun's agent looks for it (TORCHELASTIC_ERROR_FILE).
#pragma once

#include <string_view>

#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/environment.hpp>

namespace torchtrain::distributed {

/// The C++ counterpart of Python's `@record` on a training script's main: under torchrun,
/// writes `message` to the rank's error file, in the format torchrun's agent reads. Its
/// failure summary then quotes the message instead of "error_file: <N/A>". Does nothing
/// where TORCHELASTIC_ERROR_FILE is not set, and never throws: it runs while the program is
/// already failing.
///
///   } catch (const std::exception& error) {
///     std::fprintf(stderr, "train: %s\n", error.what());
///     tt::distributed::record_error(error.what());
///     return 1;
///   }
TORCHTRAIN_INLINE void record_error(std::string_view message, const GetEnv& getenv = detail::process_getenv) noexcept;

}  // namespace torchtrain::distributed

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <chrono>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace torchtrain::distributed {

TORCHTRAIN_INLINE void record_error(std::string_view message, const GetEnv& getenv) noexcept {
  try {
    const auto file = getenv("TORCHELASTIC_ERROR_FILE");
    if (!file) return;
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    // torchrun reads the timestamp (seconds, as a string) and prints py_callstack, where
    // Python puts its traceback, as the failure's "traceback": the message goes there too.
    const nlohmann::json error = {
        {"message",
         {{"message", std::string(message)},
          {"extraInfo", {{"py_callstack", std::string(message)}, {"timestamp", std::to_string(seconds)}}}}}};
    std::ofstream(*file) << error.dump();
  } catch (...) {
    // Nothing to do: the caller is reporting an error already, on stderr.
  }
}

}  // namespace torchtrain::distributed

#endif  // TORCHTRAIN_DEFINITIONS

// What every test file includes: LibTorch, torchtrain and doctest with prefixed macros only
// (LibTorch's glog headers define CHECK and LOG, which doctest's short names would clash with).
#pragma once

#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>

#define DOCTEST_CONFIG_NO_SHORT_MACRO_NAMES
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace tt = torchtrain;

// What several suites share.
namespace test_support {

/// The exit status CTest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
inline constexpr int skipped = 77;

/// Built with AddressSanitizer (tools/sanitize.sh), whose allocator keeps freed memory in
/// quarantine and changes what the memory metrics measure: those tests are skipped there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_address_sanitizer = true;
#else
inline constexpr bool under_address_sanitizer = false;
#endif

/// An empty folder for one test, under the working directory (CTest runs each suite in a
/// folder of its own, so suites running in parallel never share one).
inline std::filesystem::path fresh_folder(const std::string& name) {
  const auto folder = std::filesystem::absolute("test_folders") / name;
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

/// 100 samples of 8 features in 3 classes, a function of the features (seed 1).
inline tt::data::TensorDataset classification_data() {
  torch::manual_seed(1);
  auto inputs = torch::randn({100, 8});
  auto labels = (inputs.slice(1, 0, 3).argmax(1) + (inputs.select(1, 4) > 1).to(torch::kLong)) % 3;
  return {inputs, labels};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The message of the FileError that `action` throws, or a text saying what happened instead.
inline std::string file_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const tt::FileError& error) {
    return error.what();
  } catch (const std::exception& error) {
    return std::string("not a FileError: ") + error.what();
  }
  return "no error";
}

/// What `action` writes to the standard error (torchtrain's warnings), and it still goes on.
inline std::string stderr_of(const std::function<void()>& action) {
  const auto file = std::filesystem::temp_directory_path() / ("torchtrain_stderr_" + std::to_string(getpid()));
  std::fflush(stderr);
  const int saved = dup(2);
  std::FILE* capture = std::fopen(file.c_str(), "w");
  dup2(fileno(capture), 2);
  const auto restore = [&] {
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::fclose(capture);
  };
  try {
    action();
  } catch (...) {
    restore();
    throw;
  }
  restore();
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(file);
  return text.str();
}

}  // namespace test_support

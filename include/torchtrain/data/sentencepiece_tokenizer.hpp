// SentencePieceTokenizer: text to token ids and back with sentencepiece, trained on a corpus
// here or loaded from a model file.
//
// It runs sentencepiece's own programs (spm_train, spm_encode, spm_decode, spm_export_vocab;
// Debian package `sentencepiece`) rather than linking libsentencepiece: Debian 12's
// libsentencepiece carries a copy of protobuf 3.14 whose symbols clashed with the protobuf
// 3.21 of Debian's LibTorch 1.13, and a program linking both crashed before main (not
// retried with the torch wheel's LibTorch).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::data {

/// How `SentencePieceTokenizer::train` builds a model; the names are spm_train's flags.
struct SentencePieceOptions {
  int vocab_size = 2000;
  std::string model_type = "unigram";  // unigram, bpe, char or word
  double character_coverage = 1.0;
  int pad_id = 3;  // sentencepiece makes no padding piece unless asked; collators need one
};

class SentencePieceTokenizer {
 public:
  /// Loads a `.model` file, written by `train`, spm_train or Python's sentencepiece.
  static SentencePieceTokenizer load(const std::filesystem::path& model_file);

  /// Trains a model on the text file `corpus` (one sentence per line), writes
  /// `<model_prefix>.model` and `.vocab`, and loads it.
  static SentencePieceTokenizer train(const std::filesystem::path& corpus, const std::filesystem::path& model_prefix,
                                      const SentencePieceOptions& options = {});

  std::vector<int> encode(std::string_view text) const;

  std::string decode(const std::vector<int>& ids) const;

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  /// The id of a piece such as "<pad>", "<s>" or "</s>"; -1 where the model has none.
  int piece_id(std::string_view piece) const;

 private:
  SentencePieceTokenizer() = default;
  std::string model_;
  std::vector<std::string> pieces_;  // by id
};

}  // namespace torchtrain::data

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torchtrain/detail/printable.hpp>

namespace torchtrain::data {

namespace detail {

inline std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// The standard output of `command` run by the shell with `input` as its standard input;
/// an error naming `program` and what to install when it fails.
inline std::string run_tool(const std::string& program, const std::string& command, const std::string& input = {}) {
  // One input file per call: loader threads may encode at the same time.
  static std::atomic<unsigned> calls{0};
  const auto input_file =
      std::filesystem::temp_directory_path() / fmt::format("torchtrain_spm_{}_{}.in", ::getpid(), calls++);
  std::ofstream(input_file, std::ios::binary) << input;
  const auto full = fmt::format("{} < {} 2>&1", command, shell_quoted(input_file.string()));
  std::string output;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe) {
    char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  }
  const int status = pipe ? ::pclose(pipe) : -1;
  std::filesystem::remove(input_file);
  // The shell's 127: no such command. Else the tool's own last words say what it refused.
  if (status != 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw DataError(fmt::format("cannot run {}: it is not installed; install the Debian package `sentencepiece`",
                                program));
  if (status != 0) {
    // sentencepiece ends with "<file>(<line>) [<condition>] <what went wrong>" and a line
    // "Program terminated with an unrecoverable error.": the words between are the message.
    std::string_view why = output;
    if (const auto end = why.rfind("\nProgram terminated"); end != std::string_view::npos) why = why.substr(0, end);
    if (const auto line = why.rfind('\n'); line != std::string_view::npos) why = why.substr(line + 1);
    if (const auto condition = why.rfind("] "); condition != std::string_view::npos && condition + 2 < why.size())
      why = why.substr(condition + 2);
    throw DataError(fmt::format("{} failed: {}", program, torchtrain::detail::printable(why, 300)));
  }
  return output;
}

}  // namespace detail

TORCHTRAIN_INLINE SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model_file) {
  if (!std::filesystem::is_regular_file(model_file))
    throw DataError(fmt::format("cannot open sentencepiece model '{}': no such file; train one with "
                                "SentencePieceTokenizer::train or pass the path of an existing .model file",
                                model_file.string()));
  SentencePieceTokenizer tokenizer;
  tokenizer.model_ = std::filesystem::absolute(model_file).string();
  std::istringstream vocabulary(detail::run_tool(
      "spm_export_vocab", fmt::format("spm_export_vocab --model={}", detail::shell_quoted(tokenizer.model_))));
  for (std::string line; std::getline(vocabulary, line);)
    tokenizer.pieces_.push_back(line.substr(0, line.find('\t')));
  return tokenizer;
}

TORCHTRAIN_INLINE SentencePieceTokenizer SentencePieceTokenizer::train(const std::filesystem::path& corpus,
                                                                       const std::filesystem::path& model_prefix,
                                                                       const SentencePieceOptions& options) {
  if (!std::filesystem::is_regular_file(corpus))
    throw DataError(fmt::format("cannot train a tokenizer on '{}': no such file", corpus.string()));
  // The tool's failure (a vocabulary larger than the text allows, text it cannot read) names neither.
  const auto in_context = [&](const DataError& error) {
    return DataError(fmt::format("cannot train a tokenizer of {} pieces on '{}': {}", options.vocab_size,
                                 corpus.string(), error.what()));
  };
  if (options.vocab_size < 1) throw in_context(DataError("the vocabulary size must be at least 1"));
  try {
    detail::run_tool("spm_train",
                     fmt::format("spm_train --input={} --model_prefix={} --vocab_size={} --model_type={} "
                                 "--character_coverage={} --pad_id={} --minloglevel=2",
                                 detail::shell_quoted(corpus.string()), detail::shell_quoted(model_prefix.string()),
                                 options.vocab_size, options.model_type, options.character_coverage, options.pad_id));
  } catch (const DataError& error) {
    throw in_context(error);
  }
  return load(model_prefix.string() + ".model");
}

TORCHTRAIN_INLINE std::vector<int> SentencePieceTokenizer::encode(std::string_view text) const {
  // spm_encode reads lines; newlines become the spaces sentencepiece would make of them.
  std::string one_line(text);
  for (auto& c : one_line)
    if (c == '\n' || c == '\r') c = ' ';
  std::istringstream output(detail::run_tool(
      "spm_encode", fmt::format("spm_encode --model={} --output_format=id", detail::shell_quoted(model_)),
      one_line + "\n"));
  std::vector<int> ids;
  for (int id; output >> id;) ids.push_back(id);
  return ids;
}

TORCHTRAIN_INLINE std::string SentencePieceTokenizer::decode(const std::vector<int>& ids) const {
  auto text = detail::run_tool("spm_decode",
                               fmt::format("spm_decode --model={} --input_format=id", detail::shell_quoted(model_)),
                               fmt::format("{}\n", fmt::join(ids, " ")));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

TORCHTRAIN_INLINE int SentencePieceTokenizer::piece_id(std::string_view piece) const {
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    if (pieces_[i] == piece) return static_cast<int>(i);
  return -1;
}

}  // namespace torchtrain::data

#endif  // TORCHTRAIN_DEFINITIONS

// with_precision: picks the precision policy from --bf16 / --fp16 once, at start-up.
#pragma once

#include <utility>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/policies/precision/bf16.hpp>
#include <torchtrain/policies/precision/fp16.hpp>
#include <torchtrain/policies/precision/fp32.hpp>

namespace torchtrain {

/// Calls `run(FP32{})`, `run(BF16{})` or `run(FP16{})` as the arguments ask, so that a
/// program takes its precision from the command line and still compiles a static loop for
/// each: `with_precision(args, [&]<class P>(P) { Trainer<P> trainer(...); ... });`
template <class Run>
decltype(auto) with_precision(const TrainingArguments& args, Run&& run) {
  if (args.bf16 && args.fp16) throw ArgumentError("--bf16 and --fp16 are both set; choose one");
  if (args.bf16) return std::forward<Run>(run)(BF16{});
  if (args.fp16) return std::forward<Run>(run)(FP16{});
  return std::forward<Run>(run)(FP32{});
}

}  // namespace torchtrain

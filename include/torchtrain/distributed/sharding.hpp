// Sharding: which of a model's training state a sharded strategy (FSDP) cuts across the ranks, read from --fsdp and --fsdp_config.
#pragma once

#include <string>
#include <vector>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>

namespace torchtrain::distributed {

/// What each rank keeps 1/N of (ZeRO's stages; the names are FSDP's where it has them).
enum class ShardingStrategy {
  shard_optimizer_state,  // ZeRO-1: optimizer state; gradients and parameters whole on every rank
  shard_grad_op,          // ZeRO-2: optimizer state and gradients
  full_shard,             // ZeRO-3: parameters too, gathered block by block for forward and backward
};

/// A sharded run's settings.
struct ShardingOptions {
  ShardingStrategy strategy = ShardingStrategy::full_shard;
  /// The optimizer's state and step on the CPU while the model is on CUDA (--fsdp offload).
  bool offload = false;
  /// fsdp_config's transformer_layer_cls_to_wrap: the block types that are units of their own.
  std::vector<std::string> layer_types;
};

/// True when --fsdp asks for a sharded run ("true", or Python's words, not "false" or empty).
TORCHTRAIN_INLINE bool fsdp_requested(const TrainingArguments& args);

/// True when --fsdp_config holds settings.
TORCHTRAIN_INLINE bool fsdp_config_given(const TrainingArguments& args);

/// The sharding that --fsdp and --fsdp_config ask for, as the Python Trainer reads them:
/// --fsdp "true" or words among full_shard (the default), shard_grad_op,
/// shard_optimizer_state (ZeRO-1, ours: FSDP has none), offload and auto_wrap; fsdp_config's
/// reshard_after_forward (true: full_shard, false: shard_grad_op), cpu_offload and
/// transformer_layer_cls_to_wrap. ArgumentError names what cannot be done.
TORCHTRAIN_INLINE ShardingOptions sharding_options(const TrainingArguments& args);

}  // namespace torchtrain::distributed

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torchtrain/detail/json_text.hpp>
#include <torchtrain/io/durable_file.hpp>

namespace torchtrain::distributed {

namespace detail {

inline std::string_view strategy_name(ShardingStrategy strategy) {
  switch (strategy) {
    case ShardingStrategy::shard_optimizer_state: return "shard_optimizer_state";
    case ShardingStrategy::shard_grad_op: return "shard_grad_op";
    case ShardingStrategy::full_shard: return "full_shard";
  }
  return "?";
}

// fsdp_config: a JSON object, given inline or as the path of a file holding one (as Python
// reads it); keys may carry Python's old "fsdp_" prefix.
inline nlohmann::json fsdp_config_json(const std::string& text) {
  const bool inline_json = text.find('{') != std::string::npos;
  const std::string source = inline_json ? "--fsdp_config" : fmt::format("--fsdp_config '{}'", text);
  const auto config = torchtrain::detail::parse_json<ArgumentError>(inline_json ? text : io::read_file(text), source);
  if (!config.is_object())
    throw ArgumentError(fmt::format("{}: not a JSON object; give a JSON object or the path of a file holding one", source));
  nlohmann::json plain = nlohmann::json::object();
  for (const auto& [key, value] : config.items())
    plain[key.starts_with("fsdp_") ? key.substr(5) : key] = value;
  return plain;
}

}  // namespace detail

TORCHTRAIN_INLINE bool fsdp_requested(const TrainingArguments& args) {
  return args.fsdp && !args.fsdp->empty() && *args.fsdp != "false" && *args.fsdp != "[]" && *args.fsdp != "\"\"";
}

TORCHTRAIN_INLINE bool fsdp_config_given(const TrainingArguments& args) {
  return args.fsdp_config && !args.fsdp_config->empty() && *args.fsdp_config != "{}";
}

TORCHTRAIN_INLINE ShardingOptions sharding_options(const TrainingArguments& args) {
  ShardingOptions options;
  std::optional<ShardingStrategy> chosen;
  const auto choose = [&](ShardingStrategy strategy, std::string_view by) {
    if (chosen && *chosen != strategy)
      throw ArgumentError(fmt::format("{} asks for {}, but {} was asked for already; choose one sharding strategy", by,
                                      detail::strategy_name(strategy), detail::strategy_name(*chosen)));
    chosen = strategy;
  };
  if (fsdp_requested(args) && *args.fsdp != "true" && *args.fsdp != "1") {
    std::istringstream words(*args.fsdp);
    for (std::string word; words >> word;) {
      if (word == "full_shard")
        choose(ShardingStrategy::full_shard, "--fsdp full_shard");
      else if (word == "shard_grad_op")
        choose(ShardingStrategy::shard_grad_op, "--fsdp shard_grad_op");
      else if (word == "shard_optimizer_state")
        choose(ShardingStrategy::shard_optimizer_state, "--fsdp shard_optimizer_state");
      else if (word == "offload")
        options.offload = true;
      else if (word == "auto_wrap")
        continue;  // as in Python's FSDP2: the blocks are units already (see nn::ShardedBlock)
      else if (word == "no_shard")
        throw ArgumentError("--fsdp no_shard shards nothing: use Trainer<DDP>, which does the same with less work");
      else if (word == "hybrid_shard" || word == "hybrid_shard_zero2")
        throw ArgumentError(fmt::format("--fsdp {}: hybrid sharding (within a machine, replicas across machines) is "
                                        "not in torchtrain; use full_shard or shard_grad_op",
                                        word));
      else
        throw ArgumentError(fmt::format("--fsdp '{}': expected full_shard, shard_grad_op, shard_optimizer_state, "
                                        "offload or auto_wrap (or true)",
                                        word));
    }
    if (options.offload && !chosen)
      throw ArgumentError("--fsdp offload cannot work on its own: add it to full_shard, shard_grad_op or "
                          "shard_optimizer_state (as Python says)");
  }
  if (fsdp_config_given(args)) {
    const auto config = detail::fsdp_config_json(*args.fsdp_config);
    for (const auto& [key, value] : config.items()) {
      try {
        if (key == "reshard_after_forward")
          choose(value.get<bool>() ? ShardingStrategy::full_shard : ShardingStrategy::shard_grad_op,
                 fmt::format("--fsdp_config reshard_after_forward {}", value.dump()));
        else if (key == "cpu_offload" || key == "offload_params")
          options.offload = options.offload || value.get<bool>();
        else if (key == "transformer_layer_cls_to_wrap")
          options.layer_types = value.is_string() ? std::vector<std::string>{value.get<std::string>()}
                                                  : value.get<std::vector<std::string>>();
        else if (key == "min_num_params" && value.get<std::int64_t>() > 0)
          throw ArgumentError("--fsdp_config min_num_params: wrapping by size needs forward hooks, which LibTorch "
                              "modules have not; wrap the blocks in tt::nn::ShardedBlock instead");
        else if (key == "version" || key == "min_num_params" || key == "auto_wrap_policy" ||
                 key == "sync_module_states" || key == "use_orig_params" || key == "state_dict_type" ||
                 key == "backward_prefetch" || key == "forward_prefetch" || key == "limit_all_gathers")
          continue;  // what they ask is how torchtrain works already, or has no meaning here (see docs/distributed.md)
        else
          throw ArgumentError(fmt::format("--fsdp_config: '{}' is not a setting torchtrain reads; it reads "
                                          "reshard_after_forward, cpu_offload and transformer_layer_cls_to_wrap",
                                          key));
      } catch (const nlohmann::json::exception&) {
        throw ArgumentError(fmt::format("--fsdp_config: '{}' has the value {}, of the wrong type", key, value.dump()));
      }
    }
  }
  options.strategy = chosen.value_or(ShardingStrategy::full_shard);  // Python's default
  return options;
}

}  // namespace torchtrain::distributed

#endif  // TORCHTRAIN_DEFINITIONS

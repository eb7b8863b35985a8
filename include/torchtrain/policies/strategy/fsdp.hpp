// FSDP: sharded data parallel over c10d (ZeRO stages 1 to 3): each rank keeps 1/N of the optimizer state, of the gradients and, in full_shard, of the parameters.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/checkpoint/checkpoint.hpp>
#include <torchtrain/checkpoint/state_dict.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/distributed/detail/sharded_parameters.hpp>
#include <torchtrain/distributed/sharding.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/strategy/detail/process_group_strategy.hpp>

namespace torchtrain {

/// Strategy policy: data parallel like DDP (each rank trains on its shard of every global
/// batch, and the run equals DDP's), with the training state cut across the ranks as
/// --fsdp and --fsdp_config ask (distributed::sharding_options; full_shard by default):
/// - shard_optimizer_state (ZeRO-1): the optimizer steps only this rank's 1/N of each
///   parameter; gradients are all-reduced whole, as DDP's.
/// - shard_grad_op (ZeRO-2): gradients are reduce-scattered, so each rank holds 1/N of them.
/// - full_shard (ZeRO-3): parameters too: each nn::ShardedBlock of the model is gathered
///   whole for its forward and again for its backward, and freed after; the rest of the
///   model (the root unit) from each forward to the end of the window's backward.
/// - offload: the optimizer's state and step on the CPU while the model is on CUDA.
/// The optimizer must be element-wise (AdamW, SGD, Adagrad, RMSprop, or one of the user's
/// that is): it steps shards, not whole tensors (Adafactor's factored statistics need
/// whole matrices: an error). Gradients are clipped by their global norm over every
/// rank's shards. save_model and checkpoints hold the whole weights (model.safetensors, one
/// file that Python reads); checkpoints hold the optimizer's state as one file per rank
/// (optimizer_shard_<rank>.pt, Python's state dict of that rank's shards), which a run on
/// another number of ranks (or a DDP checkpoint's optimizer.pt) is resharded from.
class FSDP : public detail::ProcessGroupStrategy {
 public:
  using torchtrain_category = category::strategy;
  static constexpr bool reads_fsdp_arguments = true;  // --fsdp and --fsdp_config choose how it shards

  /// Gradient averaging on or off for the backward passes in its lifetime, then restored.
  using GradientSyncScope = detail::GradientSyncScope<distributed::detail::ShardedParameters>;

  /// Joins the process group, places the model, makes every rank's copy rank 0's, then
  /// shards it.
  template <class Model>
  void setup(Model& model, const TrainingArguments& args) {
    auto options = checked_sharding_options(args);
    join(model, args);
    shard_model(*model, std::move(options), args);
  }

  /// Before each forward: rank 0's buffers to every rank (as DDP), and in full_shard the
  /// root unit's parameters whole.
  void synchronize_buffers();

  GradientSyncScope gradient_sync(bool enabled) { return {sharded_.get(), enabled}; }

  /// The whole weights, on the CPU (a collective: each unit is gathered in turn).
  template <class Model>
  StateDict state_dict(Model& model) {
    return whole_state_dict(*model);
  }

  /// Whole weights (a file's) into the shards, and into whatever is kept whole.
  template <class Model>
  void load_state_dict(Model& model, const StateDict& tensors, std::string_view source) {
    load_whole_state_dict(*model, tensors, source);
  }

  /// The optimizer steps the shards: each parameter in its groups is replaced by this
  /// rank's shard of it (its options, weight decay included, stay the group's).
  void prepare_optimizer(torch::optim::Optimizer& optimizer);
  /// Clipping by the norm over every rank's shards (the model's `parameters` are not the ones stepped).
  torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& /*parameters*/, double max_norm) {
    return sharded_->clip_grad_norm(max_norm);
  }
  void after_optimizer_step() { sharded_->after_optimizer_step(); }

  /// Every rank's shard of the optimizer's state, one file each: written by each rank at
  /// once into the checkpoint's staging folder where all share rank 0's disk, else sent
  /// to the processes that save (with --save_on_each_node, or on another disk).
  void save_optimizer(const torch::optim::Optimizer& optimizer, const std::vector<double>& initial_lrs,
                      Checkpoint& checkpoint, const std::filesystem::path& folder, bool saves);

  /// This rank's shard of the saved optimizer state: its own file when the checkpoint has
  /// as many ranks as this run, else cut anew from all of them (or from a whole optimizer.pt).
  void load_optimizer(torch::optim::Optimizer& optimizer, const Checkpoint& checkpoint,
                      const std::filesystem::path& folder);

 private:
  // setup's parts that are not the model's: the sharding the arguments ask for (checked),
  // and the shards of the model once it is placed and equal on every rank.
  static distributed::ShardingOptions checked_sharding_options(const TrainingArguments& args);
  void shard_model(torch::nn::Module& model, distributed::ShardingOptions options, const TrainingArguments& args);
  // state_dict's and load_state_dict's work, on the model's module.
  StateDict whole_state_dict(torch::nn::Module& model);
  void load_whole_state_dict(torch::nn::Module& model, const StateDict& tensors, std::string_view source);

  // This rank's state dict from `saved` (one state dict per saved rank, in rank order, each
  // of that rank's shards; or one whole state dict): each state tensor of a parameter's
  // size is put back together whole, then cut for this run; the rest (step counts) is rank 0's.
  c10::IValue reshard_optimizer_state(const torch::optim::Optimizer& optimizer, const std::vector<c10::IValue>& saved,
                                      const std::string& source) const;

  std::unique_ptr<distributed::detail::ShardedParameters> sharded_;
  bool save_on_each_node_ = false;  // then every node saves, so each needs every shard: they are sent
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#include <cstdint>
#include <unordered_map>

#include <fmt/format.h>

#include <torchtrain/checkpoint/rank_files.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/io/messages.hpp>
#include <torchtrain/io/torch_pickle.hpp>
#include <torchtrain/optim/adafactor.hpp>
#include <torchtrain/optim/python_state_dict.hpp>

namespace torchtrain {

TORCHTRAIN_INLINE distributed::ShardingOptions FSDP::checked_sharding_options(const TrainingArguments& args) {
  auto options = distributed::sharding_options(args);
  if (args.fp16)
    throw ArgumentError("--fp16 with FSDP: a loss scaler must agree across shards, which torchtrain's does not "
                        "yet; use --bf16 (Trainer<BF16, FSDP>), which needs no scaler");
  return options;
}

TORCHTRAIN_INLINE void FSDP::shard_model(torch::nn::Module& model, distributed::ShardingOptions options,
                                         const TrainingArguments& args) {
  save_on_each_node_ = args.save_on_each_node;
  if (options.offload && !device_.is_cuda())
    message(LogLevel::warning, "--fsdp offload: the model is on the CPU already, so the optimizer's state stays "
                               "where it is");
  sharded_ = std::make_unique<distributed::detail::ShardedParameters>(model, group_, std::move(options), device_);
}

TORCHTRAIN_INLINE void FSDP::synchronize_buffers() {
  broadcast_buffers();
  sharded_->gather_root();
}

TORCHTRAIN_INLINE StateDict FSDP::whole_state_dict(torch::nn::Module& model) {
  std::unordered_map<std::string, torch::Tensor> whole;
  sharded_->for_each_whole_parameter([&](const std::string& name, const torch::Tensor& parameter) {
    whole[name] = parameter.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
  });
  auto tensors = torchtrain::state_dict(model);
  for (auto& [name, tensor] : tensors)
    if (auto found = whole.find(name); found != whole.end()) tensor = std::move(found->second);
  return tensors;
}

TORCHTRAIN_INLINE void FSDP::load_whole_state_dict(torch::nn::Module& model, const StateDict& tensors,
                                                   std::string_view source) {
  check_state_dict(model, tensors, source);
  std::unordered_map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) by_name[name] = &tensor;
  sharded_->load_whole_parameters([&](const std::string& name) -> const torch::Tensor& { return *by_name.at(name); });
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters())  // the frozen ones
    if (!sharded_->shard_of(item.value()).defined()) item.value().detach().copy_(*by_name.at(item.key()));
  for (const auto& item : model.named_buffers()) item.value().detach().copy_(*by_name.at(item.key()));
}

TORCHTRAIN_INLINE void FSDP::prepare_optimizer(torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<optim::Adafactor*>(&optimizer))
    throw ArgumentError("--optim adafactor with FSDP: Adafactor's factored statistics need whole matrices, and "
                        "each rank holds 1/N of each; use adamw_torch (or another element-wise optimizer)");
  if (!optimizer.state().empty())
    throw ArgumentError("FSDP: the optimizer given has stepped already; give a fresh one, whose state is made "
                        "on the shards");
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params())
      if (auto shard = sharded_->shard_of(parameter); shard.defined()) parameter = shard;
}

TORCHTRAIN_INLINE void FSDP::save_optimizer(const torch::optim::Optimizer& optimizer,
                                            const std::vector<double>& initial_lrs, Checkpoint& checkpoint,
                                            const std::filesystem::path& folder, bool saves) {
  save_rank_files(*this, Checkpoint::optimizer_shard_file_name(rank()),
                  optim::optimizer_file_bytes(optimizer, initial_lrs), folder, saves,
                  /*in_parallel=*/!save_on_each_node_, checkpoint, checkpoint.optimizer_shards);
}

TORCHTRAIN_INLINE void FSDP::load_optimizer(torch::optim::Optimizer& optimizer, const Checkpoint& checkpoint,
                                            const std::filesystem::path& folder) {
  const int saved_ranks = static_cast<int>(checkpoint.optimizer_shards.size());
  std::vector<std::pair<std::string, const std::string*>> files;  // file, bytes; by rank
  for (int rank = 0; rank < saved_ranks; ++rank) {
    const auto name = Checkpoint::optimizer_shard_file_name(rank);
    const auto found = checkpoint.optimizer_shards.find(name);
    if (found == checkpoint.optimizer_shards.end())
      throw FileError(fmt::format("'{}' holds {} optimizer shards but no {}: the checkpoint is incomplete; resume "
                                  "from another",
                                  folder.string(), saved_ranks, name));
    files.emplace_back((folder / name).string(), &found->second);
  }
  if (saved_ranks == world_size()) {
    optim::load_optimizer_file(optimizer, *files[rank()].second, files[rank()].first);
    return;
  }
  std::vector<c10::IValue> saved;
  for (const auto& [file, bytes] : files) saved.push_back(io::torch_load_bytes(*bytes, file));
  const auto whole = (folder / Checkpoint::optimizer_file).string();  // saved without FSDP
  if (files.empty()) saved.push_back(io::torch_load_bytes(checkpoint.optimizer, whole));
  const auto source = files.empty()       ? whole
                      : files.size() == 1 ? files.front().first
                                          : fmt::format("the {} optimizer shards of '{}'", files.size(), folder.string());
  const auto resharded = reshard_optimizer_state(optimizer, saved, source);
  if (!optim::load_python_state_dict(optimizer, resharded, source))
    throw FileError(fmt::format("cannot cut {} into {} shards: the optimizer is of a type whose state torchtrain "
                                "cannot read as Python's; resume on {} ranks",
                                source, world_size(), files.size()));
}

TORCHTRAIN_INLINE c10::IValue FSDP::reshard_optimizer_state(const torch::optim::Optimizer& optimizer,
                                                            const std::vector<c10::IValue>& saved,
                                                            const std::string& source) const {
  const auto saved_ranks = static_cast<std::int64_t>(saved.size());
  const int world = world_size();
  std::vector<torch::Tensor> shards;  // the optimizer's parameters, numbered as Python numbers them
  for (const auto& group : optimizer.param_groups())
    for (const auto& parameter : group.params()) shards.push_back(parameter);
  try {
    auto result = io::python_dict();
    auto first = saved.front().toGenericDict();
    auto states = io::python_dict();
    for (const auto& entry : io::value_at(first, "state").toGenericDict()) {
      const auto index = entry.key().toInt();
      if (index < 0 || index >= static_cast<std::int64_t>(shards.size()))
        throw FileError(fmt::format("cannot restore the optimizer from {}: it has state for parameter {}, and "
                                    "this optimizer has {}",
                                    source, index, shards.size()));
      const auto& shard = shards[static_cast<std::size_t>(index)];
      const auto whole_numel = sharded_->full_numel_of_shard(shard);
      const auto saved_chunk = (whole_numel + saved_ranks - 1) / saved_ranks;
      auto state = io::python_dict();
      for (const auto& item : entry.value().toGenericDict()) {
        const auto& value = item.value();
        const bool per_element = value.isTensor() && value.toTensor().dim() > 0 &&
                                 value.toTensor().numel() == (saved_ranks == 1 ? whole_numel : saved_chunk);
        if (!per_element) {
          state.insert(item.key(), value);
          continue;
        }
        std::vector<torch::Tensor> pieces;
        for (const auto& rank_state : saved) {
          const auto rank_states = io::value_at(rank_state.toGenericDict(), "state").toGenericDict();
          const auto parameter_state = io::value_at(rank_states, entry.key()).toGenericDict();
          pieces.push_back(io::value_at(parameter_state, item.key()).toTensor().reshape({-1}));
        }
        auto whole = torch::cat(pieces).narrow(0, 0, whole_numel);
        const auto chunk = shard.numel();
        auto padded = at::constant_pad_nd(whole, {0, chunk * world - whole_numel});
        state.insert(item.key(), padded.narrow(0, rank() * chunk, chunk).clone());
      }
      states.insert(entry.key(), state);
    }
    result.insert("state", states);
    result.insert("param_groups", io::value_at(first, "param_groups"));
    return result;
  } catch (const c10::Error& error) {
    throw FileError(fmt::format("cannot restore the optimizer from {}: {}; the files do not belong together or "
                                "are damaged",
                                source, error.what_without_backtrace()));
  }
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

// CudaGraphs: an accumulation policy that captures each training step (forward, backward, clipping, optimizer) in one CUDA graph and replays it.
#pragma once

#include <any>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <torchtrain/arguments/training_arguments.hpp>
#include <torchtrain/core/config.hpp>
#include <torchtrain/core/errors.hpp>
#include <torchtrain/optim/multi_tensor_adamw.hpp>
#include <torchtrain/policies/accumulation/accumulation.hpp>
#include <torchtrain/policies/category.hpp>
#include <torchtrain/policies/precision/bf16.hpp>
#include <torchtrain/policies/precision/fp32.hpp>
#include <torchtrain/policies/strategy/single_device.hpp>

namespace torchtrain {

struct PrecisionFromArguments;  // refused below: it may pick FP16 at run time

namespace detail {

/// One CUDA graph and the side stream it is captured on. Its definitions need the CUDA
/// headers; a program that never names CudaGraphs does not call them.
class CapturedStep {
 public:
  TORCHTRAIN_INLINE CapturedStep();
  TORCHTRAIN_INLINE ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  /// Runs `work` on the side stream, after the work queued on the current stream and
  /// before the work queued there next (a few warm-up steps: a std::function is cheap there).
  TORCHTRAIN_INLINE void on_side_stream(const std::function<void()>& work);
  /// Captures `work` into the graph, on the side stream: its kernels are recorded, not run.
  TORCHTRAIN_INLINE void capture(const std::function<void()>& work);
  /// Runs the captured kernels on the current stream.
  TORCHTRAIN_INLINE void replay();

 private:
  struct Streams;
  std::unique_ptr<Streams> streams_;
};

template <class>
inline constexpr bool batch_without_known_tensors = false;

// The tensors of a batch, which a captured graph reads from fixed addresses: the batch
// types of torchtrain::data, and a plain tensor.
template <class Batch>
std::vector<torch::Tensor*> batch_tensors(Batch& batch) {
  if constexpr (std::same_as<Batch, torch::Tensor>)
    return {&batch};
  else if constexpr (requires { { batch.input_ids } -> std::same_as<torch::Tensor&>; batch.attention_mask; batch.labels; })
    return {&batch.input_ids, &batch.attention_mask, &batch.labels};
  else if constexpr (requires { { batch.inputs } -> std::same_as<torch::Tensor&>; { batch.labels } -> std::same_as<torch::Tensor&>; })
    return {&batch.inputs, &batch.labels};
  else
    static_assert(batch_without_known_tensors<Batch>,
                  "torchtrain: CudaGraphs copies each batch into the tensors its graph reads; it knows batches of "
                  "`inputs` and `labels` (data::Batch), of `input_ids`, `attention_mask` and `labels` "
                  "(data::TokenBatch), and plain tensors, not this one (Batch below)");
}

template <class Batch>
bool same_shapes(Batch& a, Batch& b) {
  const auto these = batch_tensors(a), those = batch_tensors(b);
  for (std::size_t i = 0; i < these.size(); ++i)
    if (these[i]->defined() != those[i]->defined() ||
        (these[i]->defined() && (these[i]->sizes() != those[i]->sizes() || these[i]->dtype() != those[i]->dtype())))
      return false;
  return true;
}

}  // namespace detail

/// Accumulation policy: each optimizer step of one micro-batch (forward, loss, backward,
/// gradient clipping, optimizer step) runs as one CUDA graph. The first `warmup_steps`
/// steps run eagerly on a side stream; the next is captured, and every later step copies
/// its batch into the graph's input tensors and replays it, with the schedule's learning
/// rate of the step (the optimizer reads it from the device). A batch of other shapes (the
/// short last batch of an epoch without --dataloader_drop_last) runs eagerly.
///
/// It refuses, before the first step: --gradient_accumulation_steps other than 1; a run
/// on the CPU; an optimizer other than --optim adamw_torch_fused; --torch_empty_cache_steps.
/// It refuses at compile time: FP16 (its loss scaler decides on the host whether to step),
/// DDP and FSDP (their collectives are not captured), a batch type it cannot copy.
/// The step must not read values on the host (no `.item()` in a model, a loss or a
/// `training_step`); callbacks run after each replayed step, so on_pre_optimizer_step sees
/// the step already taken and no gradients.
struct CudaGraphs {
  using torchtrain_category = category::accumulation;

  /// Eager steps before the capture: lazy initialization (cuBLAS handles and workspaces,
  /// the optimizer's moments) must happen outside the graph.
  int warmup_steps = 3;

  /// One micro-batch per step; --gradient_accumulation_steps must be 1.
  TORCHTRAIN_INLINE static int steps(const TrainingArguments& args);

  /// The window as MicroBatchWindow runs it (the AccumulationPolicy contract); the Trainer
  /// calls run_step instead.
  template <class Batch, class Strategy, class MicroStep>
  void accumulate(std::span<Batch> window, Strategy& strategy, MicroStep&& micro_step) const {
    MicroBatchWindow{}.accumulate(window, strategy, std::forward<MicroStep>(micro_step));
  }

  /// Refuses what cannot be captured, naming the flag, and forgets the last run's graph.
  TORCHTRAIN_INLINE void begin_run(const TrainingArguments& args, torch::Device device,
                                   torch::optim::Optimizer& optimizer);

  /// One optimizer step (accumulation_hooks::run_step): eager, captured or replayed.
  template <class Batch, class Strategy, class Parts>
  bool run_step(std::span<Batch> window, Strategy& /*strategy*/, Parts& parts) {
    static_assert(std::derived_from<Strategy, SingleDevice>,
                  "torchtrain: CudaGraphs captures the step of one process; DDP's and FSDP's gradient collectives "
                  "are not captured: train with SingleDevice, or drop CudaGraphs");
    using Precision = typename Parts::precision;
    static_assert(!std::same_as<Precision, PrecisionFromArguments>,
                  "torchtrain: CudaGraphs captures the optimizer step, and PrecisionFromArguments picks the precision "
                  "at run time, where --fp16's loss scaler would decide on the host whether to take it: name BF16 or "
                  "FP32 in the Trainer's policies, or drop CudaGraphs");
    static_assert(std::same_as<Precision, PrecisionFromArguments> || std::derived_from<Precision, FP32> ||
                      std::derived_from<Precision, BF16>,
                  "torchtrain: CudaGraphs captures the optimizer step, but FP16's loss scaler decides on the host "
                  "whether to take it (it reads the gradients' overflow check): use BF16, or drop CudaGraphs");
    Batch& batch = window.front();
    optimizer_->stage_learning_rates();
    if (eager_steps_ < warmup_steps) {
      ++eager_steps_;
      bool stepped = false;
      graph_->on_side_stream([&] {
        parts.micro_step(batch, /*last=*/true);
        stepped = parts.optimizer_step();
      });
      return stepped;
    }
    auto* inputs = std::any_cast<Batch>(&graph_inputs_);
    if (inputs && !detail::same_shapes(*inputs, batch)) {
      parts.micro_step(batch, /*last=*/true);
      return parts.optimizer_step();
    }
    parts.begin_micro_batch(batch, /*last=*/true);
    if (!inputs) {
      inputs = &graph_inputs_.emplace<Batch>(batch);
      for (auto* tensor : detail::batch_tensors(*inputs))
        if (tensor->defined()) *tensor = tensor->clone();
      // The gradients are unset (the last step set them to none), so that backward makes
      // them in the graph's memory, where every replay finds them.
      graph_->capture([&] {
        loss_ = parts.device_micro_batch(*inputs);
        grad_norm_ = parts.device_optimizer_step();
      });
    } else {
      const auto from = detail::batch_tensors(batch);
      const auto into = detail::batch_tensors(*inputs);
      for (std::size_t i = 0; i < into.size(); ++i)
        if (into[i]->defined()) into[i]->copy_(*from[i], /*non_blocking=*/true);
      optimizer_->count_replayed_step();  // the capture counted its own step
    }
    graph_->replay();
    // Copies: the next replay overwrites the graph's outputs, and the loop keeps these.
    parts.end_micro_batch(loss_.clone(), /*last=*/true);
    return parts.end_device_optimizer_step(grad_norm_ ? std::optional(grad_norm_->clone()) : std::nullopt);
  }

 private:
  optim::MultiTensorAdamW* optimizer_ = nullptr;
  int eager_steps_ = 0;
  std::shared_ptr<detail::CapturedStep> graph_;  // shared: policies are moved into the Trainer
  std::any graph_inputs_;                          // the Batch the graph reads, once captured
  torch::Tensor loss_;                             // the graph's outputs
  std::optional<torch::Tensor> grad_norm_;
};

}  // namespace torchtrain

#if TORCHTRAIN_DEFINITIONS  // header-only, or the library (core/config.hpp)

#if __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>)
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define TORCHTRAIN_DETAIL_CUDA_GRAPHS 1
#else
#define TORCHTRAIN_DETAIL_CUDA_GRAPHS 0
#endif

namespace torchtrain {

namespace detail {

#if TORCHTRAIN_DETAIL_CUDA_GRAPHS
struct CapturedStep::Streams {
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  at::cuda::CUDAGraph graph;
};

namespace cuda_graphs {
inline void wait(const c10::cuda::CUDAStream& waiting, const c10::cuda::CUDAStream& on) {
  at::cuda::CUDAEvent done;
  done.record(on);
  done.block(waiting);
}
}  // namespace cuda_graphs

TORCHTRAIN_INLINE CapturedStep::CapturedStep() : streams_(std::make_unique<Streams>()) {}
TORCHTRAIN_INLINE CapturedStep::~CapturedStep() = default;

TORCHTRAIN_INLINE void CapturedStep::on_side_stream(const std::function<void()>& work) {
  const auto current = c10::cuda::getCurrentCUDAStream();
  cuda_graphs::wait(streams_->side, current);
  {
    c10::cuda::CUDAStreamGuard on_side(streams_->side);
    work();
  }
  cuda_graphs::wait(current, streams_->side);
}

TORCHTRAIN_INLINE void CapturedStep::capture(const std::function<void()>& work) {
  on_side_stream([&] {
    streams_->graph.capture_begin();
    try {
      work();
    } catch (...) {
      try {
        streams_->graph.capture_end();  // leaves the stream usable; the graph is not
      } catch (...) {
      }
      throw;
    }
    streams_->graph.capture_end();
  });
}

TORCHTRAIN_INLINE void CapturedStep::replay() { streams_->graph.replay(); }
#else
struct CapturedStep::Streams {};
TORCHTRAIN_INLINE CapturedStep::CapturedStep() {
  throw ArgumentError("CudaGraphs: this program was compiled without the CUDA headers (cuda_runtime_api.h, "
                      "ATen/cuda/CUDAGraph.h); build it with the CUDA toolkit's include folder");
}
TORCHTRAIN_INLINE CapturedStep::~CapturedStep() = default;
TORCHTRAIN_INLINE void CapturedStep::on_side_stream(const std::function<void()>&) {}
TORCHTRAIN_INLINE void CapturedStep::capture(const std::function<void()>&) {}
TORCHTRAIN_INLINE void CapturedStep::replay() {}
#endif

}  // namespace detail

TORCHTRAIN_INLINE int CudaGraphs::steps(const TrainingArguments& args) {
  if (args.gradient_accumulation_steps != 1)
    throw ArgumentError(fmt::format(
        "--gradient_accumulation_steps {}: CudaGraphs captures an optimizer step of one micro-batch; set "
        "--gradient_accumulation_steps 1 and raise --per_device_train_batch_size, or drop CudaGraphs",
        args.gradient_accumulation_steps));
  return 1;
}

TORCHTRAIN_INLINE void CudaGraphs::begin_run(const TrainingArguments& args, torch::Device device,
                                             torch::optim::Optimizer& optimizer) {
  if (warmup_steps < 1)
    throw ArgumentError(fmt::format("CudaGraphs{{.warmup_steps = {}}}: the optimizer makes its state in its first "
                                    "step, which must run before the capture; give at least 1",
                                    warmup_steps));
  auto* adamw = dynamic_cast<optim::MultiTensorAdamW*>(&optimizer);
  if (!adamw || !adamw->fused())
    throw ArgumentError(fmt::format(
        "--optim {}: CudaGraphs captures the optimizer step in a CUDA graph, and only the fused AdamW reads its "
        "learning rate and step count on the device; use --optim adamw_torch_fused, or drop CudaGraphs",
        enum_names(args.optim)[static_cast<std::size_t>(args.optim)]));
  if (args.torch_empty_cache_steps)
    throw ArgumentError("--torch_empty_cache_steps: CudaGraphs replays a graph whose memory must stay where it "
                        "was captured; drop the flag, or drop CudaGraphs");
  if (!device.is_cuda())
    throw ArgumentError(fmt::format(
        "CudaGraphs captures each training step in a CUDA graph, but this run trains on the {} ({}); train on a "
        "CUDA device, or drop CudaGraphs from the Trainer's policies",
        device.str(), args.use_cpu ? "--use_cpu is set" : "no CUDA device is available"));
  adamw->make_capturable();
  optimizer_ = adamw;
  eager_steps_ = 0;
  graph_inputs_.reset();
  loss_ = torch::Tensor();
  grad_norm_.reset();
  graph_ = std::make_shared<detail::CapturedStep>();
}

}  // namespace torchtrain

#endif  // TORCHTRAIN_DEFINITIONS

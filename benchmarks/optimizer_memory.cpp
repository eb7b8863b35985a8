// Memory and step time of every optimizer of `--optim` against AdamW, side by side in one run
// on one GPT: parameters, gradients at their peak, optimizer state (all of it, and that of the
// matrices GaLore and APOLLO project), the peak of a whole training step, the step time.
//
//   bench_optimizer_memory [--layers 6] [--hidden 512] [--heads 8] [--vocab 8192] [--sequence 64]
//                          [--batch 2] [--rank 128] [--steps 3] [--rounds 3] [--threads 0]
//
// Each run builds the model afresh (same seed), the optimizer with optim::make_optimizer
// (learning rate 1e-4, --optim_target_modules attention mlp: the attention's qkv and projection
// and the two MLP Linear layers of every block, optim_args rank=<rank> for GaLore and APOLLO),
// does one warm-up step (the state is created, GaLore's SVD runs) and `steps` measured ones. A
// step is the Trainer's order: forward, loss, backward, step, zero_grad (gradients set to none).
// bench::PeakMemory counts every byte LibTorch allocates on the CPU. How each column is taken:
// - gradients at their peak: a hook on every parameter (Tensor::register_hook) runs when
//   backward hands the parameter its gradient; it adds that gradient's bytes to those of the
//   `.grad` tensors still alive, and the largest sum is the peak. Why this and not the
//   allocator's peak during backward less an activation baseline: with gradients off for
//   every parameter backward does not run at all here (the first layer is an embedding), and
//   any other baseline changes which temporaries backward makes; a hook sees exactly the
//   gradients, which is what the LOMO goal is about. The allocator checks it: "live after
//   backward" is what backward left allocated (memory after it less memory before forward),
//   the gradients that wait for step(), and should match the hook's count for the optimizers
//   that step after backward and be about 0 for those that update inside backward.
// - state: the bytes of the tensors in the optimizer's state, each storage counted once (the
//   8-bit optimizer's quantization maps are shared by every parameter): NamedState's tensors
//   for torchtrain's own optimizers, AdamWParamState and AdafactorParamState for the others
//   (MultiTensorAdamW through to_adamw()). "projected" is the same for the matrices that
//   --optim_target_modules names. "held (allocator)" checks it: memory after the last step
//   and zero_grad less memory before the optimizer was built, everything the optimizer keeps.
// - step() temporaries: the allocator's peak during optimizer.step() above its count before
//   it: what the update allocates for a moment (nothing for those that update in backward,
//   whose temporaries fall inside backward).
// - step peak: the allocator's highest count during a measured step, less what was allocated
//   before the model (the data): parameters, state, gradients, activations and temporaries.
// - step time: median over every measured step of every round (rounds alternate the
//   optimizers); the ratio to AdamW is the median of the per-round ratios of medians.
//   "first step" is the warm-up step alone, the fastest of the rounds (state creation,
//   GaLore's SVD: GaLore repeats its SVD every update_proj_gap steps, 200 by default).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/hana/adapt_struct.hpp>
#include <fmt/format.h>
#include <torch/torch.h>
#include <torchtrain/torchtrain.hpp>
#include <torchtrain/optim/adafactor.hpp>
#include <torchtrain/optim/detail/per_parameter_optimizer.hpp>
#include <torchtrain/optim/multi_tensor_adamw.hpp>
#include <torchtrain/optim/optimizers.hpp>
#include <torchtrain/optim/target_modules.hpp>
#include <torchtrain/optim/train_eval_modes.hpp>

#include "gpt/model.hpp"
#include "peak_memory.hpp"
#include "support.hpp"

namespace tt = torchtrain;

struct OptimizerMemoryArguments {
  int layers = 6;      // transformer blocks
  int hidden = 512;    // model width
  int heads = 8;       // attention heads
  int vocab = 8192;    // vocabulary (token embedding and head: vocab x hidden each)
  int sequence = 64;   // tokens per sample
  int batch = 2;       // samples per step
  int rank = 128;      // GaLore's and APOLLO's rank
  int steps = 3;       // measured steps per run, after one warm-up step
  int rounds = 3;      // runs of every optimizer, alternated
  int threads = 0;     // LibTorch's intra-op threads; 0: its default (one per core)
};
BOOST_HANA_ADAPT_STRUCT(OptimizerMemoryArguments, layers, hidden, heads, vocab, sequence, batch, rank, steps, rounds,
                        threads);

namespace {

using tt::OptimizerNames;

const std::vector<OptimizerNames> compared = {
    OptimizerNames::adamw_torch,  // the reference of every ratio
    OptimizerNames::adamw_torch_fused,
    OptimizerNames::adafactor,
    OptimizerNames::galore_adamw,
    OptimizerNames::galore_adafactor,
    OptimizerNames::galore_adamw_layerwise,
    OptimizerNames::galore_adafactor_layerwise,
    OptimizerNames::apollo_adamw,
    OptimizerNames::apollo_adamw_layerwise,
    OptimizerNames::lomo,
    OptimizerNames::adalomo,
    OptimizerNames::schedule_free_adamw,
    OptimizerNames::schedule_free_sgd,
    OptimizerNames::lion_32bit,
    OptimizerNames::ademamix,
    OptimizerNames::adamw_8bit,
};
const std::vector<std::string> target_modules = {"attention", "mlp"};

std::string name_of(OptimizerNames optim) { return std::string(enum_names(optim)[static_cast<std::size_t>(optim)]); }

bool is_low_rank(OptimizerNames optim) {
  const auto name = name_of(optim);
  return name.starts_with("galore") || name.starts_with("apollo");
}

double mebibytes(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// One run's measures; the memory ones are the same in every round (same seed, same shapes).
struct Run {
  std::size_t parameter_bytes = 0;
  std::size_t largest_parameter_bytes = 0;
  std::size_t gradient_peak = 0;       // the hook's count
  std::size_t live_after_backward = 0; // the allocator's
  std::size_t step_temporaries = 0;    // the allocator's, during optimizer.step()
  std::size_t step_peak = 0;
  std::size_t held_by_optimizer = 0;   // the allocator's
  // State bytes by parameter (named_parameters() order) and key ("exp_avg", "ortho_matrix"...).
  std::vector<std::map<std::string, std::size_t>> state;
  std::vector<bool> projected;         // the parameters --optim_target_modules names
  std::vector<bool> eight_bit;         // parameters whose state1 is uint8 codes
  std::size_t unknown_states = 0;      // parameter states of a type not counted below
  double first_step_seconds = 0;
  std::vector<double> step_seconds;
  std::optional<std::string> error;
};

// Gradient bytes alive as backward reaches each parameter: its incoming gradient plus every
// `.grad` still defined (those an in-backward optimizer has used are freed by then).
struct GradientWatch {
  std::vector<torch::Tensor> parameters;
  std::size_t peak = 0;
  void on_gradient(const torch::TensorBase& incoming) {
    std::size_t alive = incoming.nbytes();
    for (const auto& parameter : parameters)
      if (parameter.grad().defined()) alive += parameter.grad().nbytes();
    peak = std::max(peak, alive);
  }
};

// Calls visit(parameter key, state key, tensor) for every tensor of the optimizer's state.
template <class Visit>
void for_each_state_tensor(torch::optim::Optimizer& optimizer, Run& run, Visit visit) {
  if (auto* multi_tensor = dynamic_cast<tt::optim::MultiTensorAdamW*>(&optimizer)) {
    auto adamw = multi_tensor->to_adamw();  // shares the moments
    for_each_state_tensor(adamw, run, visit);
    return;
  }
  for (const auto& [key, state] : optimizer.state()) {
    if (const auto* named = dynamic_cast<const tt::optim::NamedState*>(state.get())) {
      for (const auto& [name, tensor] : named->tensors) visit(key, name, tensor);
    } else if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state.get())) {
      visit(key, "exp_avg", adamw->exp_avg());
      visit(key, "exp_avg_sq", adamw->exp_avg_sq());
      visit(key, "max_exp_avg_sq", adamw->max_exp_avg_sq());
    } else if (const auto* adafactor = dynamic_cast<const tt::optim::AdafactorParamState*>(state.get())) {
      visit(key, "exp_avg_sq_row", adafactor->exp_avg_sq_row);
      visit(key, "exp_avg_sq_col", adafactor->exp_avg_sq_col);
      visit(key, "exp_avg_sq", adafactor->exp_avg_sq);
      visit(key, "exp_avg", adafactor->exp_avg);
    } else {
      ++run.unknown_states;
    }
  }
}

// The state's bytes by parameter and key; a storage shared by several entries counts once,
// for the first that holds it.
void count_state(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters, Run& run) {
  std::unordered_map<void*, std::size_t> index;
  for (std::size_t i = 0; i < parameters.size(); ++i) index[parameters[i].unsafeGetTensorImpl()] = i;
  run.state.assign(parameters.size(), {});
  run.eight_bit.assign(parameters.size(), false);
  std::set<const void*> counted;
  for_each_state_tensor(optimizer, run, [&](void* key, const std::string& name, const torch::Tensor& tensor) {
    if (!tensor.defined()) return;
    const auto found = index.find(key);
    if (found == index.end()) return;
    if (name == "state1" && tensor.scalar_type() == torch::kUInt8) run.eight_bit[found->second] = true;
    const auto& storage = tensor.storage();
    const void* data = storage.data();
    if (data != nullptr && !counted.insert(data).second) return;
    run.state[found->second][name] += storage.nbytes();
  });
}

std::size_t state_bytes(const Run& run, const std::vector<bool>* only = nullptr, bool moments_only = false) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < run.state.size(); ++i) {
    if (only && !(*only)[i]) continue;
    for (const auto& [name, bytes] : run.state[i])
      if (!moments_only || !(name.starts_with("ortho_matrix") || name.find("seed") != std::string::npos))
        total += bytes;
  }
  return total;
}

// What one training step measured.
struct StepMeasures {
  double seconds = 0;
  std::size_t live_after_backward = 0;  // allocated by forward and backward and still alive
  std::size_t step_temporaries = 0;     // the peak during optimizer.step() above memory before it
  std::size_t peak = 0;                 // the allocator's peak during the whole step
};

// Forward, loss, backward, step, zero_grad, as the Trainer orders them.
StepMeasures train_step(gpt::Gpt& model, torch::optim::Optimizer& optimizer, const torch::Tensor& inputs,
                        const torch::Tensor& targets, bench::PeakMemory& memory) {
  StepMeasures measures;
  memory.reset();
  const auto start = std::chrono::steady_clock::now();
  if (auto* modes = dynamic_cast<tt::optim::TrainEvalModes*>(&optimizer)) modes->train();
  const auto before_forward = memory.current_bytes();
  torch::Tensor loss;
  {
    auto logits = model->forward(inputs);
    loss = torch::nn::functional::cross_entropy(logits.view({-1, logits.size(-1)}), targets.view(-1));
  }
  loss.backward();
  const auto before_step = memory.current_bytes();
  measures.live_after_backward = before_step - before_forward;
  const auto peak_before_step = memory.peak_bytes();
  memory.reset();
  optimizer.step();
  measures.step_temporaries = memory.peak_bytes() - before_step;
  measures.peak = std::max(peak_before_step, memory.peak_bytes());
  optimizer.zero_grad();
  measures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return measures;
}

Run run_optimizer(OptimizerNames optim, const OptimizerMemoryArguments& shape, const torch::Tensor& inputs,
                  const torch::Tensor& targets, bench::PeakMemory& memory) {
  Run run;
  const auto before_model = memory.current_bytes();
  torch::manual_seed(0);
  gpt::Gpt model(gpt::GptConfig{.vocab_size = shape.vocab, .context = shape.sequence, .layers = shape.layers,
                                .heads = shape.heads, .hidden = shape.hidden});
  auto parameters = model->parameters();
  for (const auto& parameter : parameters) {
    run.parameter_bytes += parameter.nbytes();
    run.largest_parameter_bytes = std::max(run.largest_parameter_bytes, parameter.nbytes());
  }
  const auto targets_of_projection = tt::optim::low_rank_targets(*model, target_modules, "bench").targets;
  for (const auto& parameter : parameters)
    run.projected.push_back(std::any_of(targets_of_projection.begin(), targets_of_projection.end(),
                                        [&](const torch::Tensor& target) { return target.is_same(parameter); }));
  GradientWatch watch{parameters};
  for (auto& parameter : parameters)
    parameter.register_hook([&watch](const torch::TensorBase& gradient) { watch.on_gradient(gradient); });

  try {
    tt::TrainingArguments args;
    args.optim = optim;
    args.learning_rate = 1e-4;
    if (is_low_rank(optim)) {
      args.optim_target_modules = target_modules;
      args.optim_args = fmt::format("rank={}", shape.rank);
    }
    const auto before_optimizer = memory.current_bytes();
    auto optimizer = tt::optim::make_optimizer(*model, args);
    run.first_step_seconds = train_step(model, *optimizer, inputs, targets, memory).seconds;
    watch.peak = 0;
    for (int step = 0; step < shape.steps; ++step) {
      const auto measures = train_step(model, *optimizer, inputs, targets, memory);
      run.step_seconds.push_back(measures.seconds);
      run.step_peak = std::max(run.step_peak, measures.peak - before_model);
      run.live_after_backward = std::max(run.live_after_backward, measures.live_after_backward);
      run.step_temporaries = std::max(run.step_temporaries, measures.step_temporaries);
    }
    run.gradient_peak = watch.peak;
    run.held_by_optimizer = memory.current_bytes() - before_optimizer;
    count_state(*optimizer, parameters, run);
  } catch (const std::exception& error) {
    run.error = error.what();
  }
  return run;
}

std::string ratio(double value, double reference) {
  return reference > 0 ? fmt::format("{:.3f}", value / reference) : "";
}

std::string first_line(const std::string& text, std::size_t length) {
  auto line = text.substr(0, text.find('\n'));
  return line.size() > length ? line.substr(0, length) + "..." : line;
}

}  // namespace

int main(int argc, char** argv) {
  auto [shape] = tt::parse_args<OptimizerMemoryArguments>(argc, argv);
  if (shape.threads > 0) torch::set_num_threads(shape.threads);
  bench::PeakMemory memory;
  torch::manual_seed(1);
  const auto inputs = torch::randint(0, shape.vocab, {shape.batch, shape.sequence});
  const auto targets = torch::randint(0, shape.vocab, {shape.batch, shape.sequence});

  std::vector<Run> runs(compared.size());
  std::vector<std::vector<double>> time_ratios(compared.size());
  for (int round = 0; round < shape.rounds; ++round) {
    std::vector<double> medians(compared.size());
    for (std::size_t i = 0; i < compared.size(); ++i) {
      auto run = run_optimizer(compared[i], shape, inputs, targets, memory);
      medians[i] = run.step_seconds.empty() ? 0 : bench::median(run.step_seconds);
      run.step_seconds.insert(run.step_seconds.begin(), runs[i].step_seconds.begin(), runs[i].step_seconds.end());
      if (round > 0) run.first_step_seconds = std::min(run.first_step_seconds, runs[i].first_step_seconds);
      runs[i] = std::move(run);
      std::fprintf(stderr, "round %d: %s\n", round + 1, name_of(compared[i]).c_str());
    }
    for (std::size_t i = 0; i < compared.size(); ++i)
      if (medians[0] > 0 && medians[i] > 0) time_ratios[i].push_back(medians[i] / medians[0]);
  }

  const Run& adamw = runs[0];
  fmt::print("GPT: {} layers, hidden {}, {} heads, vocabulary {}, sequence {}, batch {}; {} parameters ({:.1f} MiB, "
             "float32); GaLore/APOLLO rank {} on --optim_target_modules attention mlp; {} round(s) of 1 warm-up + {} "
             "measured steps; {} intra-op thread(s)\n\n",
             shape.layers, shape.hidden, shape.heads, shape.vocab, shape.sequence, shape.batch,
             adamw.parameter_bytes / 4, mebibytes(adamw.parameter_bytes), shape.rank, shape.rounds, shape.steps,
             torch::get_num_threads());
  fmt::print("| optimizer | gradients at peak MiB | x AdamW | live after backward MiB | state MiB | x AdamW | "
             "state of projected matrices MiB | x AdamW | held (allocator) MiB | step() temporaries MiB | "
             "step peak MiB | x AdamW | first step ms | step ms | x AdamW |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  const double adamw_state = static_cast<double>(state_bytes(adamw));
  const double adamw_projected = static_cast<double>(state_bytes(adamw, &adamw.projected));
  for (std::size_t i = 0; i < compared.size(); ++i) {
    const Run& run = runs[i];
    if (run.error) {
      fmt::print("| {} | failed: {} ||||||||||||||\n", name_of(compared[i]), first_line(*run.error, 120));
      continue;
    }
    const double state = static_cast<double>(state_bytes(run));
    const double projected = static_cast<double>(state_bytes(run, &run.projected));
    const double step = run.step_seconds.empty() ? 0 : bench::median(run.step_seconds);
    fmt::print("| {} | {:.1f} | {} | {:.1f} | {:.1f} | {} | {:.1f} | {} | {:.1f} | {:.1f} | {:.1f} | {} | {:.0f} "
               "| {:.0f} | {} |\n",
               name_of(compared[i]), mebibytes(run.gradient_peak),
               ratio(static_cast<double>(run.gradient_peak), static_cast<double>(adamw.gradient_peak)),
               mebibytes(run.live_after_backward), state / (1 << 20), ratio(state, adamw_state),
               projected / (1 << 20), ratio(projected, adamw_projected), mebibytes(run.held_by_optimizer),
               mebibytes(run.step_temporaries), mebibytes(run.step_peak),
               ratio(static_cast<double>(run.step_peak), static_cast<double>(adamw.step_peak)),
               1e3 * run.first_step_seconds, 1e3 * step,
               time_ratios[i].empty() ? std::string() : fmt::format("{:.2f}", bench::median(time_ratios[i])));
    if (run.unknown_states > 0)
      fmt::print("|   ({} parameter states of a type this benchmark does not read: not in \"state\") |\n",
                 run.unknown_states);
  }
  for (std::size_t i = 0; i < compared.size(); ++i)
    if (runs[i].error) fmt::print("\n{} failed: {}\n", name_of(compared[i]), *runs[i].error);

  const auto verdict = [](bool pass) { return pass ? "PASS" : "MISS"; };
  const auto find = [&](OptimizerNames optim) -> const Run* {
    const auto at = std::find(compared.begin(), compared.end(), optim) - compared.begin();
    return runs[static_cast<std::size_t>(at)].error ? nullptr : &runs[static_cast<std::size_t>(at)];
  };
  fmt::print("\nGoals:\n");
  for (auto optim : {OptimizerNames::lomo, OptimizerNames::adalomo, OptimizerNames::galore_adamw_layerwise,
                     OptimizerNames::galore_adafactor_layerwise, OptimizerNames::apollo_adamw_layerwise}) {
    const Run* run = find(optim);
    if (!run) {
      fmt::print("- {}: no gradient memory beyond one parameter's: MISS (it failed)\n", name_of(optim));
      continue;
    }
    fmt::print("- {}: no gradient memory beyond one parameter's: {} (peak {:.2f} MiB of gradients alive, the largest "
               "parameter {:.2f} MiB, AdamW {:.2f} MiB; {:.2f} MiB left allocated by backward)\n",
               name_of(optim), verdict(run->gradient_peak <= run->largest_parameter_bytes),
               mebibytes(run->gradient_peak), mebibytes(run->largest_parameter_bytes), mebibytes(adamw.gradient_peak),
               mebibytes(run->live_after_backward));
  }
  const double bound = static_cast<double>(shape.rank) / shape.hidden;
  for (auto optim : {OptimizerNames::galore_adamw, OptimizerNames::galore_adamw_layerwise}) {
    const Run* run = find(optim);
    if (!run) {
      fmt::print("- {}: projected state <= rank/hidden of AdamW's: MISS (it failed)\n", name_of(optim));
      continue;
    }
    const double all = static_cast<double>(state_bytes(*run, &run->projected)) / adamw_projected;
    const double moments =
        static_cast<double>(state_bytes(*run, &run->projected, /*moments_only=*/true)) / adamw_projected;
    fmt::print("- {}: state of the projected matrices <= rank/hidden = {}/{} = {:.3f} of AdamW's: {} with the "
               "projection matrices ({:.3f}); {} for the moments alone ({:.3f})\n",
               name_of(optim), shape.rank, shape.hidden, bound, verdict(all <= bound + 1e-9), all,
               verdict(moments <= bound + 1e-9), moments);
  }
  if (const Run* run = find(OptimizerNames::adamw_8bit)) {
    const double all = static_cast<double>(state_bytes(*run)) / adamw_state;
    const double eight = static_cast<double>(state_bytes(*run, &run->eight_bit)) /
                         static_cast<double>(state_bytes(adamw, &run->eight_bit));
    // A quarter, plus one float32 scale per block of 256 codes for each moment: 2.03 / 8 bytes.
    fmt::print("- adamw_8bit: state about a quarter of AdamW's (<= 0.26): {} for the parameters kept in 8 bits "
               "({:.3f}); {} for the whole model ({:.3f}: the embedding weights and parameters under 4096 "
               "elements keep 32-bit moments, as in the Python Trainer)\n",
               verdict(eight <= 0.26), eight, verdict(all <= 0.26), all);
  } else {
    fmt::print("- adamw_8bit: state about a quarter of AdamW's: MISS (it failed)\n");
  }
}

// Evaluation of a model with a large output vocabulary, side by side in one run: samples/s
// and peak memory keeping the full logits for compute_metrics, keeping only their argmax
// (preprocess_logits_for_metrics), and keeping nothing (prediction_loss_only).
//
//   bench_evaluation [--vocabulary 16384] [--sequence 32] [--samples 256] [--rounds 5]
#include <fmt/format.h>
#include <torch/torch.h>

#include <boost/hana/adapt_struct.hpp>
#include <chrono>
#include <string>
#include <torchtrain/torchtrain.hpp>
#include <vector>

#include "peak_memory.hpp"
#include "support.hpp"

namespace tt = torchtrain;

struct EvaluationArguments {
  int vocabulary = 16384;  // output classes per position
  int sequence = 32;       // positions per sample
  int samples = 256;       // evaluation samples
  int rounds = 5;          // evaluations of each kind, alternating
};
BOOST_HANA_ADAPT_STRUCT(EvaluationArguments, vocabulary, sequence, samples, rounds);

namespace {

// Next-token logits for every position: [N, T] token ids in, [N, T, vocabulary] out.
struct LanguageModelImpl : torch::nn::Module {
  explicit LanguageModelImpl(int vocabulary)
      : embedding(register_module("embedding", torch::nn::Embedding(vocabulary, 64))),
        head(register_module("head", torch::nn::Linear(64, vocabulary))) {}
  torch::Tensor forward(const torch::Tensor& tokens) { return head(torch::relu(embedding(tokens))); }
  torch::nn::Embedding embedding;
  torch::nn::Linear head;
};
TORCH_MODULE(LanguageModel);

enum class Kept { logits, argmax, loss_only };

struct Measure {
  std::vector<double> samples_per_second, peak_mib;
};

// One evaluation: samples/s from the wall clock, and the peak bytes above those allocated before it.
void evaluate_once(bench::PeakMemory& memory, tt::Trainer<bench::SilentLogger, tt::NoCheckpoint>& trainer, int samples,
                   Measure& measure) {
  memory.reset();
  const auto before = memory.current_bytes();
  const auto start = std::chrono::steady_clock::now();
  const auto metrics = trainer.evaluate();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  measure.samples_per_second.push_back(samples / seconds);
  measure.peak_mib.push_back(static_cast<double>(memory.peak_bytes() - before) / (1 << 20));
  if (!metrics.contains("eval_loss")) throw std::runtime_error("evaluation returned no eval_loss");
}

}  // namespace

int main(int argc, char** argv) {
  auto [shape] = tt::parse_args<EvaluationArguments>(argc, argv);
  bench::PeakMemory memory;
  torch::manual_seed(0);
  const tt::data::TensorDataset data(
      torch::randint(0, shape.vocabulary, {shape.samples, shape.sequence}, torch::kLong),
      torch::randint(0, shape.vocabulary, {shape.samples, shape.sequence}, torch::kLong));
  LanguageModel model(shape.vocabulary);

  const auto make_trainer = [&](Kept kept) {
    auto trainer = std::make_unique<tt::Trainer<bench::SilentLogger, tt::NoCheckpoint>>(
        model, tt::TrainingArguments{.prediction_loss_only = kept == Kept::loss_only}, data, data,
        tt::loss::cross_entropy, tt::metrics::accuracy);
    if (kept == Kept::argmax) trainer->set_preprocess_logits_for_metrics(tt::metrics::argmax_logits);
    return trainer;
  };
  auto logits = make_trainer(Kept::logits), argmax = make_trainer(Kept::argmax),
       loss_only = make_trainer(Kept::loss_only);
  // The same accuracy either way: the argmax of the kept logits is the kept argmax.
  if (logits->evaluate().at("eval_accuracy") != argmax->evaluate().at("eval_accuracy"))
    throw std::runtime_error("preprocess_logits_for_metrics changed the accuracy");
  loss_only->evaluate();

  Measure full, reduced, none;
  for (int round = 0; round < shape.rounds; ++round) {
    evaluate_once(memory, *logits, shape.samples, full);
    evaluate_once(memory, *argmax, shape.samples, reduced);
    evaluate_once(memory, *loss_only, shape.samples, none);
  }

  const double full_speed = bench::median(full.samples_per_second), full_peak = bench::median(full.peak_mib);
  fmt::print(
      "{} samples of {} positions, vocabulary {}, eval batch 8, median of {} rounds; peak CPU memory "
      "allocated by LibTorch during evaluate()\n",
      shape.samples, shape.sequence, shape.vocabulary, shape.rounds);
  fmt::print("| kept for compute_metrics (accuracy)        | samples/s | ratio | peak MiB | ratio |\n");
  fmt::print("|--------------------------------------------|-----------|-------|----------|-------|\n");
  const auto row = [&](const char* name, const Measure& measure) {
    const double speed = bench::median(measure.samples_per_second), peak = bench::median(measure.peak_mib);
    fmt::print("| {:42} | {:9.1f} | {:5.3f} | {:8.1f} | {:5.3f} |\n", name, speed, speed / full_speed, peak,
               peak / full_peak);
  };
  row("logits [N, T, V]", full);
  row("argmax_logits, ids [N, T]", reduced);
  row("nothing (prediction_loss_only)", none);
}

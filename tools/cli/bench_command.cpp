// `kiln bench MODEL.onnx`: latency (median, p90), throughput and peak memory on seeded random
// inputs whose symbolic batch dim is --batch.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "kiln/onnx/inference_session.h"
#include "kiln/runtime/backend.h"
#include "kiln/runtime/error.h"
#include "model_inputs.h"

namespace kiln::cli {

namespace {

struct BenchArgs {
  std::string model;
  int64_t batch = 1;
  bool batch_given = false;  // --batch on the command line
  std::string backend = "cpu";
  int threads = 0;
  int iterations = 50;
  int warmup = 5;
  uint64_t seed = 0;
  std::vector<std::string> dims;
  bool json = false;
};

// Peak resident set of this process (VmHWM); 0 where /proc is not available.
size_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;  // kB
  return 0;
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int bench(const BenchArgs& a) {
  SessionOptions options;
  options.backends = parse_backend_list(a.backend);
  options.threads = a.threads;
  InferenceSession session(a.model, options);

  DimChoice choice{a.batch, {}};
  for (const std::string& spec : a.dims) choice.named.insert(parse_dim_spec(spec));
  std::vector<Dims> dims = choose_input_dims(session.inputs(), choice);
  std::mt19937_64 rng(a.seed);
  std::map<std::string, Tensor> inputs;
  for (size_t i = 0; i < dims.size(); ++i)
    inputs.emplace(session.inputs()[i].name, random_tensor(session.inputs()[i].dtype, dims[i], rng));
  // Samples per run: the batch dim of the first input (static models run their fixed batch).
  int64_t samples = !dims.empty() && !dims[0].empty() ? dims[0][0] : 1;
  if (a.batch_given && samples != a.batch)
    raise(ErrorCode::kInvalidArgument, "{}: --batch {} does not apply: input '{}' has batch dim {}", a.model,
          a.batch, session.inputs().empty() ? "" : session.inputs()[0].name, samples);

  for (int i = 0; i < a.warmup; ++i) session.run(inputs);
  std::vector<double> ms;
  for (int i = 0; i < a.iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    session.run(inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double median = percentile(sorted, 50), p90 = percentile(sorted, 90);
  double mean = 0;
  for (double m : ms) mean += m / static_cast<double>(ms.size());
  double throughput = median > 0 ? static_cast<double>(samples) * 1000.0 / median : 0;
  size_t rss = peak_rss_bytes();
  size_t arena = session.memory().planned_bytes;
  const PlacementReport& placement = session.placement();

  std::vector<std::string> shapes;
  for (size_t i = 0; i < dims.size(); ++i) shapes.push_back(session.inputs()[i].name + to_string(dims[i]));
  if (a.json) {
    nlohmann::json inputs_json = nlohmann::json::object();
    for (size_t i = 0; i < dims.size(); ++i) inputs_json[session.inputs()[i].name] = dims[i];
    nlohmann::json out = {
        {"model", a.model},
        {"backends", options.backends},
        {"threads", a.threads},
        {"batch", samples},
        {"inputs", inputs_json},
        {"iterations", a.iterations},
        {"warmup", a.warmup},
        {"latency_ms",
         {{"median", median}, {"p90", p90}, {"mean", mean}, {"min", sorted.front()}, {"max", sorted.back()}}},
        {"throughput_samples_per_s", throughput},
        {"peak_rss_bytes", rss},
        {"arena_bytes", arena},
        {"nodes", placement.nodes.size()},
        {"fallbacks", placement.num_fallbacks()},
    };
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("model: {}\n", a.model);
  fmt::print("backends: {}  threads: {}  inputs: {}\n", fmt::join(options.backends, ","),
             a.threads ? std::to_string(a.threads) : "default", fmt::join(shapes, " "));
  fmt::print("iterations: {} (after {} warmup)\n", a.iterations, a.warmup);
  fmt::print("latency: median {:.3f} ms, p90 {:.3f} ms, mean {:.3f} ms, min {:.3f} ms\n", median, p90, mean,
             sorted.front());
  fmt::print("throughput: {:.1f} samples/s (batch {})\n", throughput, samples);
  fmt::print("peak memory: {:.1f} MiB RSS, {:.1f} MiB planned arena\n", static_cast<double>(rss) / 1048576.0,
             static_cast<double>(arena) / 1048576.0);
  if (placement.num_fallbacks())
    fmt::print("{} of {} nodes fell back (kiln run --placement shows which)\n", placement.num_fallbacks(),
               placement.nodes.size());
  return 0;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("bench", "Measure latency, throughput and memory on random inputs");
  auto a = std::make_shared<BenchArgs>();
  sub->add_option("model", a->model, "The .onnx model")->required();
  sub->add_option("--batch", a->batch, "Size of symbolic batch dims (dim 0)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--backend", a->backend, "Backend preference list, e.g. cuda,cpu")->capture_default_str();
  sub->add_option("--threads", a->threads, "Threads per backend (0: the backend's default)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--iterations", a->iterations, "Timed runs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--warmup", a->warmup, "Untimed runs first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--dim", a->dims,
                  "NAME=VALUE for a symbolic dim (default: --batch for dim 0, 1 elsewhere)");
  sub->add_option("--seed", a->seed, "Seed of the random inputs")->capture_default_str();
  sub->add_flag("--json", a->json, "Print JSON");
  CLI::Option* batch = sub->get_option("--batch");
  return [a, batch] {
    a->batch_given = batch->count() > 0;
    return bench(*a);
  };
}

}  // namespace kiln::cli

// kiln_microbench: Google Benchmark's runner plus a summary of kiln against direct oneDNN,
// computed from the medians the runner measured.
//
// Defaults (each may be overridden on the command line): 5 repetitions, aggregates only, and
// random interleaving of the repetitions, so that load drifting on a shared machine hits the
// kiln and the oneDNN runs alike.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench_util.h"

namespace kiln::bench {
namespace {

struct Figures {
  double ns_per_iteration = 0;
  double ns_per_op = 0;
};

// The console output as usual, plus each benchmark's median for the summary: the "median"
// aggregate when there are repetitions, else the median of the single runs.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      std::string name = r.run_name.function_name + (r.run_name.args.empty() ? "" : "/" + r.run_name.args);
      Figures f;
      f.ns_per_iteration = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit) * 1e9;
      auto c = r.counters.find("per_op");  // seconds
      f.ns_per_op = c != r.counters.end() ? c->second.value * 1e9 : f.ns_per_iteration;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") medians_[name] = f;
      else if (r.run_type == Run::RT_Iteration) singles_[name].push_back(f);
    }
  }

  const Figures* find(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return &it->second;
    auto it = singles_.find(name);
    if (it == singles_.end() || it->second.empty()) return nullptr;
    std::vector<Figures> v = it->second;
    std::sort(v.begin(), v.end(), [](const Figures& a, const Figures& b) { return a.ns_per_op < b.ns_per_op; });
    cache_[name] = v[v.size() / 2];
    return &cache_[name];
  }

 private:
  std::map<std::string, Figures> medians_;
  std::map<std::string, std::vector<Figures>> singles_;
  mutable std::map<std::string, Figures> cache_;
};

// kiln / oneDNN for one large op; "-" when either side did not run (filtered or failed).
void print_ratio(const SummaryReporter& r, const std::string& what, const std::string& kiln,
                 const std::vector<std::pair<std::string, std::string>>& baselines) {
  const Figures* k = r.find(kiln);
  for (const auto& [label, name] : baselines) {
    const Figures* d = r.find(name);
    if (!k || !d) {
      fmt::print("  {:<28} {:<30} not measured\n", what, label);
      continue;
    }
    double ratio = k->ns_per_op / d->ns_per_op;
    fmt::print("  {:<28} {:<30} kiln {:9.3f} ms  oneDNN {:9.3f} ms  ratio {:.4f} ({:+.2f}%)\n", what, label,
               k->ns_per_op / 1e6, d->ns_per_op / 1e6, ratio, (ratio - 1) * 100);
  }
}

void print_tiny(const SummaryReporter& r) {
  const Figures* add = r.find("BM_TinyAdd_kiln/100");
  const Figures* relu = r.find("BM_TinyRelu_kiln/100");
  const Figures* direct = r.find("BM_TinyAdd_onednn/100");
  const Figures* add1 = r.find("BM_TinyAdd_kiln/1");
  const Figures* direct1 = r.find("BM_TinyAdd_onednn/1");
  if (add && direct)
    fmt::print("  {:<55} kiln {:7.3f} us  oneDNN {:7.3f} us  kiln overhead {:.3f} us/node\n",
               "tiny Add [4], chain of 100 (per node)", add->ns_per_op / 1e3, direct->ns_per_op / 1e3,
               (add->ns_per_op - direct->ns_per_op) / 1e3);
  if (relu)
    fmt::print("  {:<55} kiln {:7.3f} us  (plain C++ kernel: nearly all overhead)\n",
               "tiny Relu [4], chain of 100 (per node)", relu->ns_per_op / 1e3);
  if (add1 && direct1)
    fmt::print("  {:<55} kiln {:7.3f} us  oneDNN {:7.3f} us  kiln overhead {:.3f} us/run\n",
               "tiny Add [4], one node (whole run())", add1->ns_per_op / 1e3, direct1->ns_per_op / 1e3,
               (add1->ns_per_op - direct1->ns_per_op) / 1e3);
}

}  // namespace
}  // namespace kiln::bench

int main(int argc, char** argv) {
  using namespace kiln::bench;
  std::vector<char*> args{argv[0]};
  std::string defaults[] = {"--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
                            "--benchmark_enable_random_interleaving=true"};
  for (std::string& d : defaults) args.push_back(d.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);  // later flags win
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  fmt::print("threads: {} (KILN_BENCH_THREADS; 0 = OpenMP default, {} here); load average {:.2f}\n",
             bench_threads(), omp_get_max_threads(), load[0]);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  getloadavg(load, 3);

  fmt::print("\nkiln vs oneDNN called directly (medians; ratio = kiln / oneDNN; load average now {:.2f})\n",
             load[0]);
  print_ratio(reporter, "MatMul 1024^3", "BM_MatMul_kiln",
              {{"vs oneDNN", "BM_MatMul_onednn"}, {"vs oneDNN + fresh output", "BM_MatMul_onednn_fresh_output"}});
  print_ratio(reporter, "Conv 3x3 8x64x56x56", "BM_Conv_kiln",
              {{"vs oneDNN, same steps", "BM_Conv_onednn"},
               {"vs same steps + fresh output", "BM_Conv_onednn_fresh_output"},
               {"vs native layouts, no reorders", "BM_Conv_onednn_native"},
               {"vs plain nchw conv", "BM_Conv_onednn_plain"}});
  print_ratio(reporter, "Conv 3x3 8x64x56x56 + bias", "BM_ConvBias_kiln", {{"vs oneDNN, same steps", "BM_ConvBias_onednn"}});
  print_tiny(reporter);
  benchmark::Shutdown();
  return 0;
}

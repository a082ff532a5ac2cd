// kiln_onnx_node_tests: runs ONNX's backend node tests on kiln's cpu backend, writes a JSON
// report and fails when a gated suite does not match its expected-failures list.
//
//   kiln_onnx_node_tests --suite NAME=DIR [--suite NAME=DIR ...]
//       [--expected NAME=FILE ...] [--write-expected NAME=FILE ...] [--report FILE]
//       [--jobs N] [--timeout SECONDS] [--filter TEXT] [--no-isolate] [--rtol R] [--atol A]
//
// Each --expected NAME=FILE gates suite NAME: the run fails when one of its tests is neither
// passing nor listed, when a listed test passes (remove it, so the list stays true), when a
// listed test is not in the suite, and on any wrong result or crash, listed or not. The older
// form --gate NAME --expected FILE (or --expected FILE for the first suite) still works, as
// does --write-expected FILE.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string_view>

#include "kiln/runtime/error.h"
#include "node_test.h"

namespace kc = kiln::conformance;

namespace {

struct Args {
  std::vector<std::pair<std::string, std::string>> suites;  // name, dir
  std::map<std::string, std::string> expected, write_expected;  // suite name -> file
  std::string report, filter;
  kc::RunOptions run;
};

// "NAME=FILE" where NAME is one of the suites, else FILE for the default suite.
std::pair<std::string, std::string> suite_file(const std::string& flag, const std::string& value,
                                               const Args& args, const std::string& default_suite) {
  size_t eq = value.find('=');
  if (eq != std::string::npos)
    for (const auto& s : args.suites)
      if (s.first == value.substr(0, eq)) {
        if (eq + 1 == value.size()) kiln::raise(kiln::ErrorCode::kInvalidArgument, "{} '{}' names no file", flag, value);
        return {s.first, value.substr(eq + 1)};
      }
  return {default_suite, value};
}

int to_int(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < 1 || v > 100000)
    kiln::raise(kiln::ErrorCode::kInvalidArgument, "{} wants a positive integer, got '{}'", flag, text);
  return static_cast<int>(v);
}

double to_double(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v >= 0))
    kiln::raise(kiln::ErrorCode::kInvalidArgument, "{} wants a non-negative number, got '{}'", flag, text);
  return v;
}

Args parse_args(int argc, char** argv) {
  Args args;
  std::string gate;
  std::vector<std::pair<std::string, std::string>> expected, write_expected;  // flag values, resolved below
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) kiln::raise(kiln::ErrorCode::kInvalidArgument, "{} needs a value", flag);
      return argv[++i];
    };
    if (flag == "--suite") {
      std::string v = value();
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
        kiln::raise(kiln::ErrorCode::kInvalidArgument, "--suite wants NAME=DIR, got '{}'", v);
      args.suites.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (flag == "--gate") gate = value();
    else if (flag == "--expected") expected.emplace_back(flag, value());
    else if (flag == "--report") args.report = value();
    else if (flag == "--write-expected") write_expected.emplace_back(flag, value());
    else if (flag == "--filter") args.filter = value();
    else if (flag == "--jobs") args.run.jobs = to_int(flag, value());
    else if (flag == "--timeout") args.run.timeout_s = to_int(flag, value());
    else if (flag == "--no-isolate") args.run.isolate = false;
    else if (flag == "--rtol") args.run.tolerance.rtol = to_double(flag, value());
    else if (flag == "--atol") args.run.tolerance.atol = to_double(flag, value());
    else kiln::raise(kiln::ErrorCode::kInvalidArgument, "unknown argument '{}'", flag);
  }
  if (args.suites.empty()) kiln::raise(kiln::ErrorCode::kInvalidArgument, "no --suite NAME=DIR given");
  std::set<std::string> names;
  for (const auto& s : args.suites)
    if (!names.insert(s.first).second) kiln::raise(kiln::ErrorCode::kInvalidArgument, "two suites are named '{}'", s.first);
  if (gate.empty()) gate = args.suites.front().first;
  if (!names.count(gate)) kiln::raise(kiln::ErrorCode::kInvalidArgument, "--gate '{}' names no --suite", gate);
  for (auto [list, into] : {std::pair{&expected, &args.expected}, std::pair{&write_expected, &args.write_expected}})
    for (const auto& [flag, v] : *list) {
      auto [suite, file] = suite_file(flag, v, args, gate);
      if (!into->emplace(suite, file).second)
        kiln::raise(kiln::ErrorCode::kInvalidArgument, "{} given twice for suite '{}'", flag, suite);
    }
  return args;
}

// Counts per failure category of the tests that do not pass, "opset 12, missing op 3".
std::string categories(const kc::SuiteReport& suite) {
  std::map<std::string, size_t> counts;
  for (const kc::TestResult& r : suite.results)
    if (r.status != kc::Status::kPassed) ++counts[kc::failure_category(r.status, r.reason)];
  std::vector<std::string> parts;
  for (const auto& [category, n] : counts) parts.push_back(fmt::format("{} {}", category, n));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

// 0 when the suite matches its list (see the header comment), else 1 with what differs printed.
// A listed reason's status word ("unsupported:", "failed:") that no longer matches is only
// printed: other work changes why a test fails without making it pass.
int gate(const kc::SuiteReport& suite, bool filtered) {
  std::vector<std::string> regressions, never_listed, now_pass, unknown, stale;
  std::set<std::string> seen;
  for (const kc::TestResult& r : suite.results) {
    seen.insert(r.name);
    auto listed = suite.expected.find(r.name);
    std::string line = fmt::format("  {}  [{}] {}", r.name, kc::to_string(r.status), r.reason);
    if (r.status == kc::Status::kWrong || r.status == kc::Status::kCrashed) never_listed.push_back(line);
    else if (r.status != kc::Status::kPassed && listed == suite.expected.end()) regressions.push_back(line);
    else if (r.status == kc::Status::kPassed && listed != suite.expected.end()) now_pass.push_back("  " + r.name);
    else if (listed != suite.expected.end() && !listed->second.starts_with(std::string(kc::to_string(r.status)) + ":"))
      stale.push_back(line);
  }
  if (!filtered)
    for (const auto& [name, reason] : suite.expected)
      if (!seen.count(name)) unknown.push_back("  " + name);
  if (!stale.empty())
    fmt::print("{}: {} listed test(s) now fail differently (update their reasons in {}):\n{}\n", suite.name,
               stale.size(), suite.expected_file, fmt::join(stale, "\n"));
  if (!never_listed.empty())
    fmt::print("WRONG RESULTS OR CRASHES in {} ({}; never expected failures, listed or not):\n{}\n", suite.name,
               never_listed.size(), fmt::join(never_listed, "\n"));
  if (!regressions.empty())
    fmt::print("REGRESSIONS in {}: {} test(s) not listed in {} do not pass:\n{}\n", suite.name, regressions.size(),
               suite.expected_file, fmt::join(regressions, "\n"));
  if (!now_pass.empty())
    fmt::print("NOW PASSING in {}: {} listed expected failure(s) pass; remove them from {}:\n{}\n", suite.name,
               now_pass.size(), suite.expected_file, fmt::join(now_pass, "\n"));
  if (!unknown.empty())
    fmt::print("UNKNOWN in {}: {} listed test(s) are not in the suite; remove them from {}:\n{}\n", suite.name,
               unknown.size(), suite.expected_file, fmt::join(unknown, "\n"));
  if (never_listed.empty() && regressions.empty() && now_pass.empty() && unknown.empty()) {
    fmt::print("{}: matches its expected-failures list ({} listed)\n", suite.name, suite.expected.size());
    return 0;
  }
  return 1;
}

int run(const Args& args) {
  // Read every list before the run, so a bad list fails at once.
  std::map<std::string, std::map<std::string, std::string>> lists;
  for (const auto& [suite, file] : args.expected) lists[suite] = kc::read_expected_failures(file);
  std::vector<kc::SuiteReport> reports;
  for (const auto& [name, dir] : args.suites) {
    std::vector<std::string> dirs = kc::list_node_tests(dir);
    if (!args.filter.empty())
      std::erase_if(dirs, [&](const std::string& d) { return d.substr(d.find_last_of('/') + 1).find(args.filter) == std::string::npos; });
    auto start = std::chrono::steady_clock::now();
    kc::SuiteReport report{name, dir, kc::run_node_tests(dirs, args.run)};
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (auto it = args.expected.find(name); it != args.expected.end()) {
      report.gated = true;
      report.expected_file = it->second;
      report.expected = lists[name];
    }
    size_t counts[kc::kStatusCount] = {};
    for (const kc::TestResult& r : report.results) ++counts[static_cast<int>(r.status)];
    fmt::print("{}: {} of {} passed ({:.1f}%), {} failed, {} unsupported, {} wrong, {} crashed, in {:.1f} s; "
               "not passing: {}\n",
               name, counts[0], report.results.size(),
               report.results.empty() ? 0.0 : 100.0 * counts[0] / report.results.size(), counts[1], counts[2],
               counts[3], counts[4], report.seconds, categories(report));
    reports.push_back(std::move(report));
  }
  if (!args.report.empty()) {
    kc::write_report(args.report, reports, args.run.tolerance, {"cpu"});
    fmt::print("report: {}\n", args.report);
  }
  for (const auto& r : reports)
    if (auto it = args.write_expected.find(r.name); it != args.write_expected.end()) {
      kc::write_expected_failures(it->second, r.name, r.results);
      fmt::print("expected-failures candidate list for {}: {}\n", r.name, it->second);
    }
  int rc = 0;
  for (const auto& r : reports)
    if (r.gated) rc |= gate(r, !args.filter.empty());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln_onnx_node_tests: {}\n", e.what());
    return 2;
  }
}

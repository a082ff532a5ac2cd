// kiln_onnx_node_tests: runs ONNX's backend node tests on kiln's cpu backend, writes a JSON
// report and fails when a test that is not listed as an expected failure does not pass.
//
//   kiln_onnx_node_tests --suite NAME=DIR [--suite NAME=DIR ...] [--gate NAME]
//       [--expected FILE] [--report FILE] [--write-expected FILE]
//       [--jobs N] [--timeout SECONDS] [--filter TEXT] [--no-isolate] [--rtol R] [--atol A]
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
  std::string gate, expected, report, write_expected, filter;
  kc::RunOptions run;
};

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
    } else if (flag == "--gate") args.gate = value();
    else if (flag == "--expected") args.expected = value();
    else if (flag == "--report") args.report = value();
    else if (flag == "--write-expected") args.write_expected = value();
    else if (flag == "--filter") args.filter = value();
    else if (flag == "--jobs") args.run.jobs = to_int(flag, value());
    else if (flag == "--timeout") args.run.timeout_s = to_int(flag, value());
    else if (flag == "--no-isolate") args.run.isolate = false;
    else if (flag == "--rtol") args.run.tolerance.rtol = to_double(flag, value());
    else if (flag == "--atol") args.run.tolerance.atol = to_double(flag, value());
    else kiln::raise(kiln::ErrorCode::kInvalidArgument, "unknown argument '{}'", flag);
  }
  if (args.suites.empty()) kiln::raise(kiln::ErrorCode::kInvalidArgument, "no --suite NAME=DIR given");
  if (args.gate.empty()) args.gate = args.suites.front().first;
  bool found = false;
  for (const auto& s : args.suites) found |= s.first == args.gate;
  if (!found) kiln::raise(kiln::ErrorCode::kInvalidArgument, "--gate '{}' names no --suite", args.gate);
  return args;
}

// Regressions (not passing, not listed) make the run fail; listed tests that pass are only
// printed so the list can be trimmed.
int gate(const kc::SuiteReport& suite, const std::map<std::string, std::string>& expected, bool filtered) {
  std::vector<std::string> regressions, now_pass;
  std::set<std::string> seen;
  for (const kc::TestResult& r : suite.results) {
    seen.insert(r.name);
    bool listed = expected.count(r.name) > 0;
    if (r.status != kc::Status::kPassed && !listed)
      regressions.push_back(fmt::format("  {}  [{}] {}", r.name, kc::to_string(r.status), r.reason));
    if (r.status == kc::Status::kPassed && listed) now_pass.push_back("  " + r.name);
  }
  if (!now_pass.empty())
    fmt::print("{} listed expected failure(s) now pass; remove them from the list:\n{}\n", now_pass.size(),
               fmt::join(now_pass, "\n"));
  if (!filtered) {
    std::vector<std::string> unknown;
    for (const auto& [name, reason] : expected)
      if (!seen.count(name)) unknown.push_back("  " + name);
    if (!unknown.empty())
      fmt::print("{} listed test(s) are not in {}:\n{}\n", unknown.size(), suite.name, fmt::join(unknown, "\n"));
  }
  if (regressions.empty()) {
    fmt::print("{}: no regressions against the expected-failures list\n", suite.name);
    return 0;
  }
  fmt::print("REGRESSIONS in {}: {} test(s) not listed as expected failures do not pass:\n{}\n", suite.name,
             regressions.size(), fmt::join(regressions, "\n"));
  return 1;
}

int run(const Args& args) {
  std::vector<kc::SuiteReport> reports;
  for (const auto& [name, dir] : args.suites) {
    std::vector<std::string> dirs = kc::list_node_tests(dir);
    if (!args.filter.empty())
      std::erase_if(dirs, [&](const std::string& d) { return d.substr(d.find_last_of('/') + 1).find(args.filter) == std::string::npos; });
    auto start = std::chrono::steady_clock::now();
    kc::SuiteReport report{name, dir, kc::run_node_tests(dirs, args.run)};
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t counts[3] = {0, 0, 0};
    for (const kc::TestResult& r : report.results) ++counts[static_cast<int>(r.status)];
    fmt::print("{}: {} of {} passed ({:.1f}%), {} failed, {} unsupported, in {:.1f} s\n", name, counts[0],
               report.results.size(), report.results.empty() ? 0.0 : 100.0 * counts[0] / report.results.size(),
               counts[1], counts[2], seconds);
    reports.push_back(std::move(report));
  }
  if (!args.report.empty()) {
    kc::write_report(args.report, reports, args.run.tolerance, {"cpu"});
    fmt::print("report: {}\n", args.report);
  }
  const kc::SuiteReport* gated = nullptr;
  for (const auto& r : reports)
    if (r.name == args.gate) gated = &r;
  if (!args.write_expected.empty()) {
    kc::write_expected_failures(args.write_expected, gated->name, gated->results);
    fmt::print("expected-failures candidate list: {}\n", args.write_expected);
  }
  if (args.expected.empty()) return 0;
  return gate(*gated, kc::read_expected_failures(args.expected), !args.filter.empty());
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

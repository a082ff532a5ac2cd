// The JSON report and the expected-failures list.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "kiln/runtime/error.h"
#include "node_test.h"

namespace kiln::conformance {

namespace fs = std::filesystem;

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Writes through a temporary file and a rename, so a killed run leaves no half file.
void write_file(const std::string& path, const std::string& text) {
  fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  if (ec) raise(ErrorCode::kIo, "{}: cannot create its folder: {}", path, ec.message());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) raise(ErrorCode::kIo, "{}: cannot write", tmp);
  }
  fs::rename(tmp, p, ec);
  if (ec) raise(ErrorCode::kIo, "{}: cannot rename {} to it: {}", path, tmp, ec.message());
}

}  // namespace

std::map<std::string, std::string> read_expected_failures(const std::string& path) {
  std::ifstream in(path);
  if (!in) raise(ErrorCode::kNotFound, "{}: cannot read the expected-failures list", path);
  std::map<std::string, std::string> expected;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t hash = t.find('#');
    std::string name = trim(t.substr(0, hash));
    std::string reason = hash == std::string::npos ? "" : trim(t.substr(hash + 1));
    if (name.find_first_of(" \t") != std::string::npos)
      raise(ErrorCode::kInvalidArgument, "{}:{}: expected 'test_name  # reason', got '{}'", path, number, t);
    if (!expected.emplace(name, reason).second)
      raise(ErrorCode::kInvalidArgument, "{}:{}: '{}' is listed twice", path, number, name);
  }
  return expected;
}

void write_expected_failures(const std::string& path, const std::string& suite, const std::vector<TestResult>& results) {
  std::ostringstream out;
  out << "# ONNX backend node tests (" << suite << ") that do not pass on kiln's cpu backend.\n"
      << "# One per line: test_name  # status: reason. onnx.node_tests fails when a test that is not\n"
      << "# listed here does not pass, when a listed test passes, and on any wrong result or crash\n"
      << "# (those are never listed). Regenerate from a build folder with:\n"
      << "#   ./kiln_onnx_node_tests --suite " << suite << "=DIR --write-expected " << suite << "=FILE\n";
  for (const TestResult& r : results) {
    if (r.status == Status::kPassed || r.status == Status::kWrong || r.status == Status::kCrashed) continue;
    std::string reason = r.reason;
    if (reason.size() > 200) reason = reason.substr(0, 197) + "...";
    out << r.name << "  # " << to_string(r.status) << ": " << reason << "\n";
  }
  write_file(path, out.str());
}

void write_report(const std::string& path, const std::vector<SuiteReport>& suites, const Tolerance& tol,
                  const std::vector<std::string>& backends) {
  std::ostringstream out;
  out << "{";
  for (size_t s = 0; s < suites.size(); ++s) {
    const SuiteReport& suite = suites[s];
    size_t counts[kStatusCount] = {};
    std::map<std::string, size_t> categories;
    for (const TestResult& r : suite.results) {
      ++counts[static_cast<int>(r.status)];
      if (r.status != Status::kPassed) ++categories[failure_category(r.status, r.reason)];
    }
    const double rate = suite.results.empty() ? 0.0 : 100.0 * static_cast<double>(counts[0]) / suite.results.size();
    out << (s ? ",\n" : "\n") << "  " << json_string(suite.name) << ": {\n";
    for (size_t k = 0; k < kStatusCount; ++k) out << "    \"" << to_string(static_cast<Status>(k)) << "\": " << counts[k] << ",\n";
    out << "    \"total\": " << suite.results.size() << ",\n"
        << "    \"pass_rate\": " << fmt::format("{:.1f}", rate) << ",\n"
        << "    \"seconds\": " << fmt::format("{:.1f}", suite.seconds) << ",\n"
        << "    \"not_passing_by_category\": {";
    size_t c = 0;
    for (const auto& [category, n] : categories) out << (c++ ? ", " : "") << json_string(category) << ": " << n;
    out << "},\n"
        << "    \"gated\": " << (suite.gated ? "true" : "false") << ",\n";
    if (suite.gated)
      out << "    \"expected_failures_file\": " << json_string(suite.expected_file) << ",\n"
          << "    \"expected_failures_listed\": " << suite.expected.size() << ",\n";
    out << "    \"dir\": " << json_string(suite.dir) << ",\n"
        << "    \"backends\": [";
    for (size_t b = 0; b < backends.size(); ++b) out << (b ? ", " : "") << json_string(backends[b]);
    out << "],\n"
        << "    \"rtol\": " << tol.rtol << ",\n"
        << "    \"atol\": " << tol.atol << ",\n"
        << "    \"results\": [";
    for (size_t i = 0; i < suite.results.size(); ++i) {
      const TestResult& r = suite.results[i];
      out << (i ? ",\n" : "\n") << "      {\"name\": " << json_string(r.name) << ", \"status\": \""
          << to_string(r.status) << "\"";
      if (suite.gated) out << ", \"listed\": " << (suite.expected.count(r.name) ? "true" : "false");
      out << ", \"reason\": " << json_string(r.reason) << "}";
    }
    out << "\n    ]\n  }";
  }
  out << "\n}\n";
  write_file(path, out.str());
}

}  // namespace kiln::conformance

#pragma once
// The fixture of the tests that run the kiln binary (KILN_BUILD_DIR/kiln): a fresh folder per
// test, running a command with its stdout and stderr captured, and the one-line error rule.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>

namespace kiln {

struct CliResult {
  int code;
  std::string out, err;
};

class KilnCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln_cli_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  /// Runs `kiln args`; env holds variable assignments for the child ("KILN_BACKEND_PATH=...").
  CliResult kiln(const std::string& args, const std::string& env = "") const {
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    const std::string command = env + " " + std::string(KILN_BUILD_DIR) + "/kiln " + args + " >" + out + " 2>" + err;
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read(out), read(err)};
  }

  static std::string read(const std::string& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  /// The command fails with exactly one line "kiln: error [code]: ..." holding every needle,
  /// and leaves no file behind.
  void expect_failure(const std::string& args, const std::string& code, std::initializer_list<std::string> needles,
                      const std::string& env = "") {
    const auto before = files();
    const CliResult r = kiln(args, env);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("kiln: error [" + code + "]: ", 0), 0u) << r.err;
    for (const std::string& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' in " << r.err;
    EXPECT_EQ(files(), before) << "files written by a failed run: " << args;
  }

  /// Every file under the test's folder but the captured output.
  std::set<std::string> files() const {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name != "stdout.txt" && name != "stderr.txt") out.insert(e.path().string());
    }
    return out;
  }

  std::filesystem::path dir_;
};

}  // namespace kiln

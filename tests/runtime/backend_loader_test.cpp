// The plugin loader and registry: real plugins load and report devices; every kind of broken
// plugin is recorded with a reason that names the file, and never crashes the process.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "kiln/runtime/backend.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "test_backends.h"
#include "test_errors.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

const std::string kBrokenDir = KILN_TEST_PLUGIN_DIR "/broken";

std::string broken_plugin(const std::string& name) { return kBrokenDir + "/libkiln_backend_" + name + ".so"; }

const BackendFailure* find_failure(const BackendRegistry& registry, const std::string& name) {
  for (const BackendFailure& f : registry.failures())
    if (f.name == name) return &f;
  return nullptr;
}

// A fresh folder under the temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kiln-loader-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
    if (path_.empty()) ADD_FAILURE() << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets (or, with nullopt, unsets) an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(BackendLoader, CpuBackendLoadsWithOneHostDevice) {
  Backend* cpu = test_registry().find("cpu");
  ASSERT_NE(cpu, nullptr) << test_registry().why_missing("cpu");
  EXPECT_EQ(cpu->name(), "cpu");
  EXPECT_NE(cpu->path().find("libkiln_backend_cpu.so"), std::string::npos) << cpu->path();
  ASSERT_EQ(cpu->device_count(), 1);
  EXPECT_TRUE(cpu->device_info(0).host_accessible);
  EXPECT_EQ(cpu->device_info(0).name.rfind("cpu0", 0), 0u) << cpu->device_info(0).name;
}

TEST(BackendLoader, TestBackendLoadsWithOneNonHostDevice) {
  Backend* test = test_registry().find("test");
  ASSERT_NE(test, nullptr) << test_registry().why_missing("test");
  EXPECT_EQ(test->name(), "test");
  EXPECT_NE(test->path().find("libkiln_backend_test.so"), std::string::npos) << test->path();
  ASSERT_EQ(test->device_count(), 1);
  EXPECT_EQ(test->device_info(0).name, "test0");
  EXPECT_FALSE(test->device_info(0).host_accessible);
}

TEST(BackendLoader, RegistryHasNoFailuresForTheGoodPlugins) {
  EXPECT_EQ(find_failure(test_registry(), "cpu"), nullptr);
  EXPECT_EQ(find_failure(test_registry(), "test"), nullptr);
  // The broken plugins live in a subfolder that normal registries do not scan.
  for (const char* name : {"badabi", "failinit", "nosymbol"}) {
    EXPECT_EQ(find_failure(test_registry(), name), nullptr) << name;
    EXPECT_EQ(test_registry().find(name), nullptr) << name;
  }
}

TEST(BackendLoader, LoadsASinglePluginFile) {
  BackendRegistry registry({KILN_TEST_PLUGIN_DIR "/libkiln_backend_test.so"});
  ASSERT_EQ(registry.backends().size(), 1u);
  EXPECT_EQ(registry.backends()[0]->name(), "test");
  EXPECT_EQ(registry.find("cpu"), nullptr);
  std::string why = registry.why_missing("cpu");
  EXPECT_NE(why.find("libkiln_backend_cpu.so"), std::string::npos) << why;
}

TEST(BackendLoader, FirstBackendOfANameWins) {
  BackendRegistry registry({KILN_TEST_PLUGIN_DIR, KILN_BUILD_DIR, KILN_TEST_PLUGIN_DIR});
  size_t tests = 0;
  for (const auto& b : registry.backends()) tests += b->name() == "test";
  EXPECT_EQ(tests, 1u);
  ASSERT_NE(registry.find("cpu"), nullptr);
}

// Each registry owns its plugins' state: a second registry over the same .so files (dlopen
// returns the same handles) must not change, or on destruction free, the first one's backends.
TEST(BackendLoader, RegistriesOverTheSamePluginsAreIndependent) {
  BackendRegistry first({KILN_BUILD_DIR, KILN_TEST_PLUGIN_DIR});
  {
    BackendRegistry second({KILN_BUILD_DIR, KILN_TEST_PLUGIN_DIR});
    ASSERT_NE(second.find("cpu"), nullptr);
    ASSERT_NE(second.find("test"), nullptr);
  }
  Graph g;
  g.add_input("x", DType::kF32, Shape{3});
  g.add_input("y", DType::kF32, Shape{3});
  g.add_node({"Add", {"x", "y"}, {"z"}, {}, "add"});
  g.add_output("z");
  for (const char* name : {"cpu", "test"}) {
    ASSERT_NE(first.find(name), nullptr) << name;
    Executor ex(g, ExecutorOptions{{name}, true, 0}, first);
    std::vector<Tensor> out = ex.run(std::vector<Tensor>{Tensor::from_vector<float>({3}, {1, 2, 3}),
                                                         Tensor::from_vector<float>({3}, {10, 20, 30})});
    EXPECT_EQ(out.at(0).to_vector<float>(), (std::vector<float>{11, 22, 33})) << name;
  }
}

TEST(BackendLoader, BackendErrorsCarryCodeAndBackendName) {
  Backend* test = test_registry().find("test");
  ASSERT_NE(test, nullptr);
  std::string msg = error_message([&] { test->set_option("threads", "many"); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("backend 'test'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("many"), std::string::npos) << msg;
  msg = error_message([&] { test->set_option("no_such_option", "1"); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("no_such_option"), std::string::npos) << msg;
  test->set_option("threads", "2");
  test->set_option("threads", "0");

  // The test device is not host memory: handing it a host pointer is refused, not crashed on.
  float host[4] = {1, 2, 3, 4};
  float back[4] = {};
  msg = error_message([&] { test->copy_to_host(0, back, host, sizeof host); }, ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("not inside any test0 allocation"), std::string::npos) << msg;

  void* device = test->alloc(0, sizeof host);
  test->copy_from_host(0, device, host, sizeof host);
  test->copy_to_host(0, back, device, sizeof back);
  test->free(0, device);
  EXPECT_EQ(std::vector<float>(back, back + 4), std::vector<float>(host, host + 4));

  msg = error_message([&] { test->alloc(0, size_t{1} << 62); }, ErrorCode::kOutOfMemory);
  EXPECT_NE(msg.find("backend 'test'"), std::string::npos) << msg;
}

TEST(BackendLoader, FileThatIsNotAPluginIsRecordedAndSkipped) {
  TempDir dir;
  std::string junk = dir.path() + "/libkiln_backend_junk.so";
  std::ofstream(junk) << "this is a text file, not a shared library\n";

  for (const std::string& path : {dir.path(), junk}) {
    BackendRegistry registry({path});
    EXPECT_TRUE(registry.backends().empty());
    const BackendFailure* f = find_failure(registry, "junk");
    ASSERT_NE(f, nullptr) << "loading " << path;
    EXPECT_EQ(f->path, junk);
    EXPECT_FALSE(f->reason.empty());
    std::string why = registry.why_missing("junk");
    EXPECT_NE(why.find("libkiln_backend_junk.so"), std::string::npos) << why;
    EXPECT_NE(why.find(f->reason), std::string::npos) << why;
  }
}

TEST(BackendLoader, WrongAbiVersionIsRefused) {
  BackendRegistry registry({broken_plugin("badabi")});
  EXPECT_EQ(registry.find("badabi"), nullptr);
  const BackendFailure* f = find_failure(registry, "badabi");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path, broken_plugin("badabi"));
  EXPECT_NE(f->reason.find("ABI"), std::string::npos) << f->reason;
  // Both versions, so the reader knows which side is out of date.
  EXPECT_NE(f->reason.find(std::to_string(KILN_BACKEND_ABI_VERSION + 1)), std::string::npos) << f->reason;
  EXPECT_NE(f->reason.find(std::to_string(KILN_BACKEND_ABI_VERSION)), std::string::npos) << f->reason;
  std::string why = registry.why_missing("badabi");
  EXPECT_NE(why.find("libkiln_backend_badabi.so"), std::string::npos) << why;
}

TEST(BackendLoader, InitFailureReasonIsRecorded) {
  BackendRegistry registry({broken_plugin("failinit")});
  EXPECT_EQ(registry.find("failinit"), nullptr);
  const BackendFailure* f = find_failure(registry, "failinit");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path, broken_plugin("failinit"));
  EXPECT_NE(f->reason.find("simulated: no device present"), std::string::npos) << f->reason;
  std::string why = registry.why_missing("failinit");
  EXPECT_NE(why.find("simulated: no device present"), std::string::npos) << why;
  EXPECT_NE(why.find("libkiln_backend_failinit.so"), std::string::npos) << why;
}

TEST(BackendLoader, LibraryWithoutInitSymbolIsRefused) {
  BackendRegistry registry({broken_plugin("nosymbol")});
  EXPECT_EQ(registry.find("nosymbol"), nullptr);
  const BackendFailure* f = find_failure(registry, "nosymbol");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->reason.find(KILN_BACKEND_INIT_SYMBOL), std::string::npos) << f->reason;
  std::string why = registry.why_missing("nosymbol");
  EXPECT_NE(why.find("libkiln_backend_nosymbol.so"), std::string::npos) << why;
}

TEST(BackendLoader, BrokenPluginsNextToGoodOnesAreSkipped) {
  BackendRegistry registry({kBrokenDir, KILN_TEST_PLUGIN_DIR});
  EXPECT_NE(registry.find("test"), nullptr);
  for (const char* name : {"badabi", "failinit", "nosymbol"}) {
    EXPECT_NE(find_failure(registry, name), nullptr) << name;
    EXPECT_EQ(registry.find(name), nullptr) << name;
  }
}

TEST(BackendLoader, MissingPathIsNotFound) {
  const std::string missing = "/nonexistent/kiln-plugins-for-a-test";
  std::string msg = error_message([&] { BackendRegistry registry({missing}); }, ErrorCode::kNotFound);
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
}

TEST(BackendLoader, BackendPathVariableNamingNothingIsNotFound) {
  const std::string missing = "/nonexistent/kiln-backend-path";
  ScopedEnv env("KILN_BACKEND_PATH", missing);
  // default_paths() may reject the path itself, or hand it on for the registry to reject;
  // either way the error names the variable and the path.
  std::string msg =
      error_message([&] { BackendRegistry registry(BackendRegistry::default_paths()); }, ErrorCode::kNotFound);
  EXPECT_NE(msg.find("KILN_BACKEND_PATH"), std::string::npos) << msg;
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
}

TEST(BackendLoader, BackendPathVariableListsFolders) {
  ScopedEnv env("KILN_BACKEND_PATH", std::string(KILN_TEST_PLUGIN_DIR) + ":" + KILN_BUILD_DIR);
  std::vector<std::string> paths = BackendRegistry::default_paths();
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], KILN_TEST_PLUGIN_DIR);
  EXPECT_EQ(paths[1], KILN_BUILD_DIR);
  BackendRegistry registry(paths);
  EXPECT_NE(registry.find("test"), nullptr);
  EXPECT_NE(registry.find("cpu"), nullptr);
}

TEST(BackendLoader, DefaultPathIsTheExecutablesFolder) {
  ScopedEnv env("KILN_BACKEND_PATH", std::nullopt);
  std::vector<std::string> paths = BackendRegistry::default_paths();
  ASSERT_EQ(paths.size(), 1u);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  ASSERT_FALSE(ec);
  EXPECT_TRUE(fs::equivalent(paths[0], exe.parent_path(), ec)) << paths[0];
}

TEST(BackendLoader, ParseBackendList) {
  EXPECT_EQ(parse_backend_list("cuda,cpu"), (std::vector<std::string>{"cuda", "cpu"}));
  EXPECT_EQ(parse_backend_list("cpu"), (std::vector<std::string>{"cpu"}));
  for (const char* bad : {"cpu,,test", ",cpu", "cpu,"}) {
    std::string msg = error_message([&] { parse_backend_list(bad); }, ErrorCode::kInvalidArgument);
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace kiln

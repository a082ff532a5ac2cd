// The kiln binary (KILN_BUILD_DIR/kiln) on small models saved here: `kiln info`, `kiln run` and
// `kiln bench` outputs, and one error line with a non-zero exit for every bad input.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "kiln/frontend/npy.h"
#include "kiln/onnx/model.h"
#include "onnx/tiny_model.h"
#include "tools/kiln_cli.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// s = a + b over two inputs.
Graph two_input_graph() {
  Graph g;
  g.add_input("a", DType::kF32, Shape{2});
  g.add_input("b", DType::kF32, Shape{2});
  g.add_node({"Add", {"a", "b"}, {"s"}});
  g.add_output("s");
  return g;
}

const std::vector<float> kX = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.5f};  // [2,3]

class CliTest : public KilnCliTest {
 protected:
  void SetUp() override {
    KilnCliTest::SetUp();
    onnx::Model tiny;
    tiny.graph = tiny_graph();
    tiny.producer_name = "kiln-test";
    tiny.producer_version = "0.1";
    onnx::save_model(tiny, path("tiny.onnx"));
    onnx::Model two;
    two.graph = two_input_graph();
    onnx::save_model(two, path("two.onnx"));
    write_npy(path("x.npy"), Tensor::from_vector<float>({2, 3}, kX));
    write_npy(path("x64.npy"), Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6}));
    write_npy(path("a.npy"), Tensor::from_vector<float>({2}, {1, 2}));
  }
};

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST_F(CliTest, InfoText) {
  CliResult r = kiln("info " + path("tiny.onnx"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  // The fields as the saved file holds them (export may stamp its own producer).
  onnx::Model saved = onnx::load_model(path("tiny.onnx"));
  EXPECT_TRUE(has_line(r.out, "producer: " + saved.producer_name + " " + saved.producer_version)) << r.out;
  EXPECT_TRUE(has_line(r.out, "ir_version: " + std::to_string(saved.ir_version))) << r.out;
  EXPECT_TRUE(has_line(r.out, "opsets: ai.onnx 17")) << r.out;
  EXPECT_TRUE(has_line(r.out, "  x: f32 [N,3]")) << r.out;
  EXPECT_TRUE(has_line(r.out, "parameters: 9 in 3 initializers (36 bytes)")) << r.out;
  EXPECT_TRUE(has_line(r.out, "nodes: 4")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  MatMul +1  cpu\n"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  Relu +1  cpu\n"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  y: f32 \\[N,2\\]\n"))) << r.out;
}

TEST_F(CliTest, InfoJson) {
  CliResult r = kiln("info --json " + path("tiny.onnx"));
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  onnx::Model saved = onnx::load_model(path("tiny.onnx"));
  EXPECT_EQ(j["ir_version"], saved.ir_version);
  EXPECT_EQ(j["producer"]["name"], saved.producer_name);
  EXPECT_EQ(j["producer"]["version"], saved.producer_version);
  EXPECT_EQ(j["opsets"]["ai.onnx"], 17);
  ASSERT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["inputs"][0]["dtype"], "f32");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["N", 3])"));
  ASSERT_EQ(j["outputs"].size(), 2u);
  EXPECT_EQ(j["outputs"][1]["name"], "z");
  EXPECT_EQ(j["parameters"]["count"], 9);
  EXPECT_EQ(j["parameters"]["bytes"], 36);
  EXPECT_EQ(j["nodes"], 4);
  std::map<std::string, nlohmann::json> ops;
  for (const auto& op : j["ops"]) ops[op["op_type"]] = op;
  ASSERT_EQ(ops.size(), 4u);
  for (const char* op : {"MatMul", "Add", "Relu", "Mul"}) {
    EXPECT_EQ(ops[op]["count"], 1) << op;
    EXPECT_EQ(ops[op]["backends"], nlohmann::json::parse(R"(["cpu"])")) << op;
    EXPECT_TRUE(ops[op]["unsupported"].empty()) << op;
  }
}

// Parses "name: dtype [dims] min=.. max=.. mean=.. values=[..]".
struct Summary {
  std::string head;
  double min, max, mean;
  std::vector<double> values;
};

std::optional<Summary> find_summary(const std::string& out, const std::string& name) {
  std::smatch m;
  std::regex line("(^|\n)(" + name +
                  ": [a-z0-9]+ \\[[0-9,]*\\]) min=(\\S+) max=(\\S+) mean=(\\S+) values=\\[([^\\]]*)\\]\n");
  if (!std::regex_search(out, m, line)) return std::nullopt;
  Summary s{m[2], std::stod(m[3]), std::stod(m[4]), std::stod(m[5]), {}};
  std::string values = m[6];
  std::replace(values.begin(), values.end(), ',', ' ');
  std::istringstream in(values);
  for (double v; in >> v;) s.values.push_back(v);
  return s;
}

TEST_F(CliTest, RunPrintsASummaryOfEachOutput) {
  for (const std::string& spec : {"x=" + path("x.npy"), path("x.npy")}) {  // a single input needs no name
    CliResult r = kiln("run " + path("tiny.onnx") + " --input " + spec);
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<float> y = tiny_expected_y(kX);
    auto s = find_summary(r.out, "y");
    ASSERT_TRUE(s) << r.out;
    EXPECT_EQ(s->head, "y: f32 [2,2]");
    EXPECT_NEAR(s->min, *std::min_element(y.begin(), y.end()), 1e-4);
    EXPECT_NEAR(s->max, *std::max_element(y.begin(), y.end()), 1e-4);
    double mean = 0;
    for (float v : y) mean += v / 4.0;
    EXPECT_NEAR(s->mean, mean, 1e-4);
    ASSERT_EQ(s->values.size(), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(s->values[i], y[i], 1e-4) << i;
    auto z = find_summary(r.out, "z");
    ASSERT_TRUE(z) << r.out;
    EXPECT_EQ(z->head, "z: f32 [2,3]");
    EXPECT_NEAR(z->min, -4.0, 1e-6);
    EXPECT_NEAR(z->max, 6.0, 1e-6);
    ASSERT_EQ(z->values.size(), 6u);
    for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(z->values[i], 2 * kX[i], 1e-6) << i;
  }
}

TEST_F(CliTest, RunWritesAnNpz) {
  CliResult r = kiln("run " + path("tiny.onnx") + " --input x=" + path("x.npy") + " --output " +
                  path("out.npz") + " --backend cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, Tensor> out = read_npz(path("out.npz"));
  ASSERT_EQ(out.size(), 2u);
  std::vector<float> y = out.at("y").to_vector<float>(), want = tiny_expected_y(kX);
  ASSERT_EQ(out.at("y").shape(), (Dims{2, 2}));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5) << i;
  std::vector<float> z = out.at("z").to_vector<float>();
  for (size_t i = 0; i < kX.size(); ++i) EXPECT_EQ(z[i], 2 * kX[i]) << i;
}

TEST_F(CliTest, RunPrintsThePlacement) {
  CliResult r = kiln("run " + path("two.onnx") + " --input a=" + path("a.npy") + " --input b=" + path("a.npy") +
                  " --placement --strict");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nAdd\\S* +Add +cpu"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n1 nodes, 0 fell back"))) << r.out;
  auto s = find_summary(r.out, "s");
  ASSERT_TRUE(s) << r.out;
  EXPECT_EQ(s->values, (std::vector<double>{2, 4}));
}

TEST_F(CliTest, RunErrors) {
  std::string tiny = path("tiny.onnx"), two = path("two.onnx");
  expect_failure("run " + tiny + " --input q=" + path("x.npy"), "InvalidArgument", {"tiny.onnx", "'q'"});
  expect_failure("run " + two + " --input a=" + path("a.npy"), "InvalidArgument",
                 {"two.onnx", "input 'b'", "missing"});
  expect_failure("run " + tiny + " --input =" + path("x.npy"), "InvalidArgument", {"NAME=FILE.npy"});
  expect_failure("run " + tiny + " --input x=", "InvalidArgument", {"NAME=FILE.npy"});
  expect_failure("run " + two + " --input " + path("a.npy"), "InvalidArgument", {"2 inputs", "a, b"});
  expect_failure("run " + two + " --input a=" + path("a.npy") + " --input a=" + path("a.npy"),
                 "InvalidArgument", {"'a'", "twice"});
  expect_failure("run " + tiny + " --input x=" + path("x64.npy"), "InvalidArgument", {"input 'x'", "f64"});
  expect_failure("run " + two + " --input a=" + path("x.npy") + " --input b=" + path("a.npy"),
                 "InvalidArgument", {"input 'a'", "[2,3]"});
  CliResult missing = kiln("run " + tiny + " --input x=" + path("nope.npy"));
  EXPECT_NE(missing.code, 0);
  EXPECT_EQ(missing.err.rfind("kiln: error [", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("nope.npy"), std::string::npos) << missing.err;
  expect_failure("run " + tiny + " --input x=" + path("x.npy") + " --backend ,", "InvalidArgument", {});
  expect_failure("run " + tiny + " --no-such-flag", "InvalidArgument", {"--no-such-flag"});
}

TEST_F(CliTest, NotAModel) {
  std::ofstream(path("junk.onnx"), std::ios::binary) << "definitely not a protobuf\x01\xff\xff\xff";
  for (const char* command : {"info ", "run ", "bench "}) {
    CliResult r = kiln(command + path("junk.onnx"));
    EXPECT_NE(r.code, 0) << command;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("kiln: error [", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("junk.onnx"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  CliResult r = kiln("info " + path("missing.onnx"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("missing.onnx"), std::string::npos) << r.err;
}

// The test plugin runs only f32 Add/Sub/Mul/Div/Relu/Neg/Abs/Identity: MatMul is reported for
// it with the plugin's reason, and the command still succeeds.
const std::string kWithTestBackend =
    std::string("KILN_BACKEND_PATH=") + KILN_BUILD_DIR + ":" + KILN_TEST_PLUGIN_DIR;

TEST_F(CliTest, InfoReportsOpsABackendCannotRun) {
  CliResult r = kiln("info --json " + path("tiny.onnx"), kWithTestBackend);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["backends_checked"], nlohmann::json::parse(R"(["cpu", "test"])"));
  EXPECT_TRUE(j["plan_errors"].contains("test")) << j.dump(2);
  std::map<std::string, nlohmann::json> ops;
  for (const auto& op : j["ops"]) ops[op["op_type"]] = op;
  EXPECT_EQ(ops["MatMul"]["backends"], nlohmann::json::parse(R"(["cpu"])"));
  ASSERT_EQ(ops["MatMul"]["unsupported"].size(), 1u) << j.dump(2);
  EXPECT_EQ(ops["MatMul"]["unsupported"][0]["backend"], "test");
  EXPECT_EQ(ops["MatMul"]["unsupported"][0]["node"], "matmul");
  EXPECT_NE(ops["MatMul"]["unsupported"][0]["reason"].get<std::string>().find("MatMul"), std::string::npos);
  for (const char* op : {"Add", "Relu", "Mul"})
    EXPECT_EQ(ops[op]["backends"], nlohmann::json::parse(R"(["cpu", "test"])")) << op;

  CliResult text = kiln("info " + path("tiny.onnx") + " --backend test", kWithTestBackend);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("\n  MatMul +1  -\n"))) << text.out;
  EXPECT_TRUE(std::regex_search(text.out, std::regex("\n  Relu +1  test\n"))) << text.out;
  EXPECT_TRUE(
      std::regex_search(text.out, std::regex("\n  unsupported on test: node 'matmul' \\(MatMul\\): ")))
      << text.out;
}

TEST_F(CliTest, RunFallsBackOrFailsWhenStrict) {
  std::string args =
      "run " + path("tiny.onnx") + " --input " + path("x.npy") + " --backend test,cpu --placement";
  CliResult r = kiln(args, kWithTestBackend);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nmatmul +MatMul +cpu +fell back: test: "))) << r.out;
  ASSERT_TRUE(find_summary(r.out, "y")) << r.out;
  CliResult strict = kiln(args + " --strict", kWithTestBackend);
  EXPECT_NE(strict.code, 0);
  EXPECT_EQ(strict.err.rfind("kiln: error [Unsupported]: ", 0), 0u) << strict.err;
  EXPECT_NE(strict.err.find("--strict"), std::string::npos) << strict.err;
}

TEST_F(CliTest, BenchJson) {
  CliResult r = kiln("bench " + path("tiny.onnx") + " --batch 4 --iterations 5 --warmup 1 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch"], 4);
  EXPECT_EQ(j["iterations"], 5);
  EXPECT_EQ(j["inputs"]["x"], nlohmann::json::parse("[4, 3]"));
  double median = j["latency_ms"]["median"], p90 = j["latency_ms"]["p90"];
  EXPECT_GT(median, 0);
  EXPECT_GE(p90, median);
  EXPECT_GE(j["latency_ms"]["max"].get<double>(), p90);
  EXPECT_NEAR(j["throughput_samples_per_s"].get<double>(), 4 * 1000.0 / median, 1e-6 * 4000 / median);
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
  EXPECT_TRUE(j["arena_bytes"].is_number_unsigned());
}

TEST_F(CliTest, BenchText) {
  CliResult r = kiln("bench " + path("tiny.onnx") + " --iterations 3 --warmup 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nlatency: median [0-9.]+ ms, p90 [0-9.]+ ms"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nthroughput: [0-9.]+ samples/s \\(batch 1\\)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\npeak memory: [0-9.]+ MiB RSS"))) << r.out;
  expect_failure("bench " + path("tiny.onnx") + " --dim N", "InvalidArgument", {"--dim 'N'"});
  expect_failure("bench " + path("tiny.onnx") + " --iterations 0", "InvalidArgument", {"--iterations"});
  // A static batch dim cannot take another --batch.
  expect_failure("bench " + path("two.onnx") + " --batch 4", "InvalidArgument",
                 {"two.onnx", "--batch 4", "input 'a'"});
}

}  // namespace
}  // namespace kiln

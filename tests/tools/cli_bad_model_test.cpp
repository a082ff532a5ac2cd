// The bad inputs through the kiln binary: each gets one line "kiln: error [...]" naming
// the file, and a non-zero exit, from `kiln info`, `kiln run` and `kiln bench` alike.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <functional>

#include "kiln/frontend/npy.h"
#include "onnx/onnx_test_util.h"

namespace kiln::onnx_test {
namespace {

struct Result {
  int code;
  std::string out, err;
};

Result kiln(const TempDir& dir, const std::string& args) {
  std::string out = (dir / "stdout.txt").string(), err = (dir / "stderr.txt").string();
  int status =
      std::system((std::string(KILN_BUILD_DIR) + "/kiln " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out), read_file(err)};
}

// Every command refuses the file with one error line naming it (and the needle) and no output.
void expect_refused(const TempDir& dir, const fs::path& model, const std::string& needle) {
  std::string x = (dir / "x.npy").string();
  for (const std::string& command : {"info " + model.string(), "run " + model.string() + " --input x=" + x,
                                     "bench " + model.string() + " --iterations 1"}) {
    Result r = kiln(dir, command);
    EXPECT_NE(r.code, 0) << command;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << command << ": " << r.err;
    EXPECT_EQ(r.err.rfind("kiln: error [", 0), 0u) << command << ": " << r.err;
    EXPECT_NE(r.err.find(model.filename().string()), std::string::npos) << command << ": " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' in " << r.err;
    EXPECT_TRUE(r.out.empty()) << command << ": " << r.out;
  }
}

class CliBadModel : public ::testing::Test {
 protected:
  void SetUp() override { write_npy((dir_ / "x.npy").string(), Tensor::zeros({2, 3}, DType::kF32)); }
  // Writes a model changed by edit and expects every command to refuse it.
  void check(const std::string& name, const std::function<void(ModelProto&)>& edit, const std::string& needle,
             const std::string& folder = "") {
    ModelProto m = good_model();
    edit(m);
    fs::path path = (folder.empty() ? dir_.path() : dir_ / folder) / name;
    write_file(path, bytes_of(m));
    expect_refused(dir_, path, needle);
  }
  TempDir dir_;
};

TEST_F(CliBadModel, TheGoodModelRuns) {
  write_file(dir_ / "good.onnx", bytes_of(good_model()));
  Result r = kiln(dir_, "run " + (dir_ / "good.onnx").string() + " --input " + (dir_ / "x.npy").string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("y: f32 [2,3] min=1 max=6"), std::string::npos) << r.out;
}

TEST_F(CliBadModel, TruncatedFileAndRandomBytes) {
  std::string bytes = bytes_of(good_model());
  write_file(dir_ / "cut.onnx", bytes.substr(0, bytes.size() / 2));
  expect_refused(dir_, dir_ / "cut.onnx", "cut.onnx");
  std::string noise(300, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 7);
  write_file(dir_ / "noise.onnx", noise);
  expect_refused(dir_, dir_ / "noise.onnx", "noise.onnx");
}

TEST_F(CliBadModel, FileOverTwoGiB) {
  write_file(dir_ / "huge.onnx", bytes_of(good_model()));
  fs::resize_file(dir_ / "huge.onnx", (uint64_t{2} << 30) + 1);  // sparse
  expect_refused(dir_, dir_ / "huge.onnx", "2147483649");
}

TEST_F(CliBadModel, WrongIrVersion) {
  check(
      "ir.onnx", [](ModelProto& m) { m.set_ir_version(1000); }, "ir_version");
}

TEST_F(CliBadModel, OpFromAnUnknownDomain) {
  check(
      "acme.onnx",
      [](ModelProto& m) {
        auto* imp = m.add_opset_import();
        imp->set_domain("com.acme");
        imp->set_version(1);
        m.mutable_graph()->mutable_node(1)->set_domain("com.acme");
        m.mutable_graph()->mutable_node(1)->set_op_type("FastRelu");
      },
      "com.acme");
}

TEST_F(CliBadModel, ExternalDataOutsideTheModelsFolder) {
  fs::create_directory(dir_ / "model");
  fs::create_directory(dir_ / "elsewhere");
  const std::string weights(6 * sizeof(float), '\0');
  write_file(dir_ / "elsewhere" / "w.bin", weights);
  fs::create_symlink(dir_ / "elsewhere" / "w.bin", dir_ / "model" / "link.bin");
  auto external = [](std::string location) {
    return [location](ModelProto& m) { make_external(m.mutable_graph()->mutable_initializer(0), location); };
  };
  check("dotdot.onnx", external("../elsewhere/w.bin"), "initializer 'w'", "model");
  check("absolute.onnx", external((dir_ / "elsewhere" / "w.bin").string()), "initializer 'w'", "model");
  check("symlink.onnx", external("link.bin"), "initializer 'w'", "model");
}

TEST_F(CliBadModel, RawDataOfTheWrongSize) {
  check(
      "raw.onnx",
      [](ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(20, '\0')); },
      "raw_data");
}

TEST_F(CliBadModel, OverflowingAndNegativeDims) {
  check(
      "overflow.onnx",
      [](ModelProto& m) {
        TensorProto* t = m.mutable_graph()->mutable_initializer(0);
        t->clear_dims();
        for (int i = 0; i < 3; ++i) t->add_dims(int64_t{1} << 31);
      },
      "initializer 'w'");
  check(
      "negative.onnx", [](ModelProto& m) { m.mutable_graph()->mutable_initializer(0)->set_dims(1, -3); },
      "initializer 'w'");
}

TEST_F(CliBadModel, UnsortedGraphAndCycle) {
  check(
      "unsorted.onnx", [](ModelProto& m) { m.mutable_graph()->mutable_node()->SwapElements(0, 1); },
      "sorted");
  check(
      "cycle.onnx",
      [](ModelProto& m) {
        const std::string y = "y";  // a = Add(x, y); y = Relu(a)
        m.mutable_graph()->mutable_node(0)->set_input(1, y);
      },
      "cycle.onnx");
}

}  // namespace
}  // namespace kiln::onnx_test

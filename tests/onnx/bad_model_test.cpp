// Bad ONNX input: each case gets one clear kiln::Error naming the file and what is wrong, and
// never a crash. Models are built here; files go to a temporary folder.

#include <gtest/gtest.h>

#include <random>

#include "kiln/onnx/model.h"
#include "onnx_test_util.h"
#include "test_errors.h"

namespace kiln::onnx_test {
namespace {

using kiln::onnx::load_model;
using kiln::onnx::load_model_from_bytes;
using kiln::onnx::LoadOptions;

constexpr LoadOptions kNoChecker{.run_checker = false};

const std::string kWeights(6 * sizeof(float), '\0');

TEST(OnnxBadModel, GoodModelLoads) {
  // The baseline every case below breaks in one way.
  auto model = load_model_from_bytes(bytes_of(good_model()), "good.onnx");
  EXPECT_EQ(model.graph.num_nodes(), 2u);
}

TEST(OnnxBadModel, TruncatedFile) {
  TempDir dir;
  std::string bytes = bytes_of(good_model());
  write_file(dir / "cut.onnx", bytes.substr(0, bytes.size() / 2));
  expect_error([&] { load_model((dir / "cut.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"cut.onnx", "not an ONNX model"});
  // Every cut is refused cleanly, with and without the checker.
  for (size_t n = 0; n < bytes.size(); ++n)
    for (const LoadOptions& options : {LoadOptions{}, kNoChecker})
      EXPECT_NE(error_message([&] { load_model_from_bytes(bytes.substr(0, n), "cut.onnx", "", options); }),
                "")
          << "cut at " << n;
}

TEST(OnnxBadModel, RandomBytes) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(1 + rng() % 512, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    expect_error([&] { load_model_from_bytes(bytes, "noise.onnx"); }, ErrorCode::kInvalidArgument,
                 {"noise.onnx", "not an ONNX model"});
  }
}

TEST(OnnxBadModel, FileOverTwoGiB) {
  TempDir dir;
  // A sparse file: its size is checked before anything is read.
  write_file(dir / "huge.onnx", bytes_of(good_model()));
  fs::resize_file(dir / "huge.onnx", (uint64_t{2} << 30) + 1);
  expect_error([&] { load_model((dir / "huge.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"huge.onnx", "2147483649 bytes", "external data"});
  // The cap is a LoadLimit.
  LoadOptions small;
  small.limits.max_file_bytes = 64;
  expect_error([&] { load_model_from_bytes(bytes_of(good_model()), "small.onnx", "", small); },
               ErrorCode::kInvalidArgument, {"small.onnx", "64 byte limit"});
}

TEST(OnnxBadModel, WrongIrVersion) {
  for (int64_t ir : {int64_t{2}, int64_t{15}, int64_t{1000}}) {
    ModelProto m = good_model();
    m.set_ir_version(ir);
    expect_error([&] { load_model_from_bytes(bytes_of(m), "ir.onnx"); }, ErrorCode::kUnsupported,
                 {"ir.onnx", fmt::format("ir_version {} is not supported", ir), "3 to 14"});
  }
  ModelProto m = good_model();
  m.clear_opset_import();
  expect_error([&] { load_model_from_bytes(bytes_of(m), "noopset.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument, {"noopset.onnx", "no opset_import"});
}

TEST(OnnxBadModel, OpFromAnUnknownDomain) {
  ModelProto m = good_model();
  auto* imp = m.add_opset_import();
  imp->set_domain("com.acme");
  imp->set_version(1);
  m.mutable_graph()->mutable_node(1)->set_domain("com.acme");
  m.mutable_graph()->mutable_node(1)->set_op_type("FastRelu");
  expect_error([&] { load_model_from_bytes(bytes_of(m), "acme.onnx"); }, ErrorCode::kUnsupported,
               {"acme.onnx", "FastRelu from domain 'com.acme'", "node 'relu'"});
}

TEST(OnnxBadModel, ExternalDataWithDotDot) {
  TempDir dir;
  fs::create_directory(dir / "model");
  write_file(dir / "w.bin", kWeights);  // exists, but outside the model's folder
  ModelProto m = good_model();
  make_external(m.mutable_graph()->mutable_initializer(0), "../w.bin");
  write_file(dir / "model" / "m.onnx", bytes_of(m));
  for (const LoadOptions& options : {LoadOptions{}, kNoChecker})
    expect_error([&] { load_model((dir / "model" / "m.onnx").string(), options); },
                 ErrorCode::kInvalidArgument, {"m.onnx", "initializer 'w'", "'../w.bin' contains '..'"});
  make_external(m.mutable_graph()->mutable_initializer(0), "sub/../../w.bin");
  write_file(dir / "model" / "m2.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "model" / "m2.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"m2.onnx", "contains '..'"});
}

TEST(OnnxBadModel, ExternalDataWithAnAbsolutePath) {
  TempDir dir;
  write_file(dir / "w.bin", kWeights);
  ModelProto m = good_model();
  make_external(m.mutable_graph()->mutable_initializer(0), (dir / "w.bin").string());
  write_file(dir / "m.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "m.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"m.onnx", "initializer 'w'", "absolute path"});
}

TEST(OnnxBadModel, ExternalDataThroughASymlinkThatLeavesTheFolder) {
  TempDir dir;
  fs::create_directory(dir / "model");
  fs::create_directory(dir / "elsewhere");
  write_file(dir / "elsewhere" / "w.bin", kWeights);
  fs::create_symlink(dir / "elsewhere" / "w.bin", dir / "model" / "w.bin");  // a file link
  fs::create_directory_symlink(dir / "elsewhere", dir / "model" / "sub");    // a folder link
  for (const char* location : {"w.bin", "sub/w.bin"}) {
    ModelProto m = good_model();
    make_external(m.mutable_graph()->mutable_initializer(0), location);
    write_file(dir / "model" / "m.onnx", bytes_of(m));
    expect_error([&] { load_model((dir / "model" / "m.onnx").string()); }, ErrorCode::kInvalidArgument,
                 {"m.onnx", "initializer 'w'", "outside the model's folder"});
  }
}

TEST(OnnxBadModel, ExternalDataPastTheEndOfItsFile) {
  TempDir dir;
  write_file(dir / "w.bin", kWeights);
  ModelProto m = good_model();
  TensorProto* t = m.mutable_graph()->mutable_initializer(0);
  make_external(t, "w.bin");
  auto* offset = t->add_external_data();
  offset->set_key("offset");
  offset->set_value("4");
  write_file(dir / "m.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "m.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"m.onnx", "initializer 'w'", "24 bytes at offset 4", "only 24 bytes"});
  offset->set_value("-4");
  write_file(dir / "m.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "m.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"m.onnx", "offset '-4'"});
  offset->set_value("0");
  auto* length = t->add_external_data();
  length->set_key("length");
  length->set_value("12");
  write_file(dir / "m.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "m.onnx").string()); }, ErrorCode::kInvalidArgument,
               {"m.onnx", "length is 12 bytes", "needs 24"});
}

TEST(OnnxBadModel, ExternalDataFileMissing) {
  TempDir dir;
  ModelProto m = good_model();
  make_external(m.mutable_graph()->mutable_initializer(0), "absent.bin");
  write_file(dir / "m.onnx", bytes_of(m));
  expect_error([&] { load_model((dir / "m.onnx").string()); }, ErrorCode::kNotFound,
               {"m.onnx", "initializer 'w'", "'absent.bin' does not exist"});
}

TEST(OnnxBadModel, RawDataOfTheWrongSize) {
  ModelProto m = good_model();
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(20, '\0'));
  // onnx's checker reports it first; without the checker, kiln's own conversion does.
  expect_error([&] { load_model_from_bytes(bytes_of(m), "raw.onnx"); }, ErrorCode::kInvalidArgument,
               {"raw.onnx", "onnx checker", "tensor name: w", "20 bytes", "24 bytes required"});
  expect_error([&] { load_model_from_bytes(bytes_of(m), "raw.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument, {"raw.onnx", "initializer 'w'", "raw_data has 20 bytes", "needs 24"});
  // A typed field with the wrong count, likewise.
  ModelProto typed = good_model();
  *typed.mutable_graph()->mutable_initializer(0) = float_tensor("w", {2, 3}, {1, 2, 3});
  expect_error([&] { load_model_from_bytes(bytes_of(typed), "typed.onnx"); }, ErrorCode::kInvalidArgument,
               {"typed.onnx", "onnx checker", "tensor name: w", "float_data size (3)", "6 float values"});
  expect_error([&] { load_model_from_bytes(bytes_of(typed), "typed.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument,
               {"typed.onnx", "initializer 'w'", "float_data has 3 values", "need 6"});
}

TEST(OnnxBadModel, DimsWhoseProductOverflows) {
  ModelProto m = good_model();
  TensorProto* t = m.mutable_graph()->mutable_initializer(0);
  t->clear_dims();
  for (int i = 0; i < 3; ++i) t->add_dims(int64_t{1} << 31);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "overflow.onnx"); }, ErrorCode::kInvalidArgument,
               {"overflow.onnx", "initializer 'w'", "overflows"});
  // Large but representable counts stop at the element cap before any allocation.
  t->clear_dims();
  t->add_dims(int64_t{1} << 50);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "big.onnx"); }, ErrorCode::kInvalidArgument,
               {"big.onnx", "initializer 'w'", "over the limit"});
}

TEST(OnnxBadModel, NegativeDim) {
  ModelProto m = good_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(1, -3);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "neg.onnx"); }, ErrorCode::kInvalidArgument,
               {"neg.onnx", "initializer 'w'", "dim 1 is negative (-3)"});
  ModelProto in = good_model();
  in.mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->set_dim_value(-1);
  expect_error([&] { load_model_from_bytes(bytes_of(in), "negin.onnx"); }, ErrorCode::kInvalidArgument,
               {"negin.onnx", "input 'x'", "dim 0 is negative"});
}

TEST(OnnxBadModel, RankNodeCountAndElementCaps) {
  ModelProto m = good_model();
  auto* shape = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int i = 0; i < 20; ++i) shape->add_dim()->set_dim_value(1);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "rank.onnx"); }, ErrorCode::kInvalidArgument,
               {"rank.onnx", "input 'x'", "rank 22 is over the limit of 16"});
  LoadOptions few;
  few.limits.max_nodes = 1;
  expect_error([&] { load_model_from_bytes(bytes_of(good_model()), "nodes.onnx", "", few); },
               ErrorCode::kInvalidArgument, {"nodes.onnx", "2 nodes is over the limit of 1"});
  LoadOptions tiny;
  tiny.limits.max_elements = 5;
  expect_error([&] { load_model_from_bytes(bytes_of(good_model()), "elems.onnx", "", tiny); },
               ErrorCode::kInvalidArgument, {"elems.onnx", "initializer 'w'", "6 elements"});
}

TEST(OnnxBadModel, GraphNotTopologicallySorted) {
  // ONNX requires nodes in topological order; kiln refuses unsorted graphs rather than
  // reordering them, as the checker does.
  ModelProto m = good_model();
  m.mutable_graph()->mutable_node()->SwapElements(0, 1);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "unsorted.onnx"); }, ErrorCode::kInvalidArgument,
               {"unsorted.onnx", "onnx checker", "topologically sorted"});
  expect_error([&] { load_model_from_bytes(bytes_of(m), "unsorted.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument,
               {"unsorted.onnx", "node 'relu' (Relu) uses 'a' before node 'add' (Add) produces it",
                "topological order"});
  // The checker knows opset 18 and later too.
  m.mutable_opset_import(0)->set_version(18);
  m.set_ir_version(10);
  expect_error([&] { load_model_from_bytes(bytes_of(m), "unsorted18.onnx"); }, ErrorCode::kInvalidArgument,
               {"unsorted18.onnx", "topologically sorted", "input 'a' of node", "relu"});
}

TEST(OnnxBadModel, GraphWithACycle) {
  // a = Add(x, b); b = Relu(a)
  ModelProto m = good_model();
  const std::string y = "y";  // (a const char* here trips a false -Wrestrict in GCC 12)
  m.mutable_graph()->mutable_node(0)->set_input(1, y);
  std::string bytes = bytes_of(m);
  expect_error([&] { load_model_from_bytes(bytes, "cycle.onnx"); }, ErrorCode::kInvalidArgument,
               {"cycle.onnx", "onnx checker", "topologically sorted"});
  expect_error([&] { load_model_from_bytes(bytes, "cycle.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument, {"cycle.onnx", "cycle through node"});
}

TEST(OnnxBadModel, MissingFileAndOtherSmallCases) {
  TempDir dir;
  expect_error([&] { load_model((dir / "absent.onnx").string()); }, ErrorCode::kNotFound, "absent.onnx");
  expect_error([&] { load_model(dir.path().string()); }, ErrorCode::kInvalidArgument, "not a regular file");
  // A subgraph attribute names the node (checker off: it would reject the attribute first).
  ModelProto g = good_model();
  auto* a = g.mutable_graph()->mutable_node(1)->add_attribute();
  a->set_name("body");
  a->set_type(::onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("sub");
  expect_error([&] { load_model_from_bytes(bytes_of(g), "sub.onnx", "", kNoChecker); },
               ErrorCode::kUnsupported, {"sub.onnx", "node 'relu' (Relu)", "attribute 'body'", "subgraph"});
  // A value defined twice breaks SSA.
  ModelProto ssa = good_model();
  ssa.mutable_graph()->mutable_node(1)->set_output(0, "a");
  ssa.mutable_graph()->mutable_output(0)->set_name("a");
  expect_error([&] { load_model_from_bytes(bytes_of(ssa), "ssa.onnx", "", kNoChecker); },
               ErrorCode::kInvalidArgument, {"ssa.onnx", "'a'", "SSA"});
  // A string initializer has no kiln dtype.
  ModelProto str = good_model();
  TensorProto* s = str.mutable_graph()->add_initializer();
  s->set_name("names");
  s->set_data_type(TensorProto::STRING);
  s->add_dims(1);
  s->add_string_data("a");
  expect_error([&] { load_model_from_bytes(bytes_of(str), "str.onnx"); }, ErrorCode::kUnsupported,
               {"str.onnx", "initializer 'names'", "STRING"});
}

TEST(OnnxBadModel, CorruptedBytesLoadOrFailWithAKilnError) {
  // Byte-level corruption of a model with every kind of part (typed and raw initializers,
  // Constant nodes, attributes, symbolic dims): each variant loads or throws one kiln::Error.
  ModelProto m = good_model();
  auto* c = add_node(m, "Constant", {}, {"k"}, "k");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(::onnx::AttributeProto::TENSOR);
  *a->mutable_t() = float_tensor("", {3}, {1, 2, 3});
  add_int_attr(add_node(m, "Softmax", {"y"}, {"s"}, "softmax"), "axis", 1);
  add_node(m, "Add", {"s", "k"}, {"z"}, "add_k");
  add_output(m, "z", TensorProto::FLOAT, {std::string("N"), int64_t{3}});
  const std::string bytes = bytes_of(m);
  ASSERT_NO_THROW(load_model_from_bytes(bytes, "fuzz.onnx"));
  std::mt19937 rng(42);
  size_t loaded = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = bytes;
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      size_t at = rng() % bad.size();
      bad[at] = static_cast<char>(trial % 2 ? bad[at] ^ (1 << (rng() % 8)) : rng());
    }
    try {
      load_model_from_bytes(bad, "fuzz.onnx", "", trial % 3 == 0 ? kNoChecker : LoadOptions{});
      ++loaded;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("fuzz.onnx: ", 0), 0u) << "unlabelled: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << ": not a kiln::Error: " << e.what();
    }
  }
  EXPECT_LT(loaded, 3000u);
}

}  // namespace
}  // namespace kiln::onnx_test

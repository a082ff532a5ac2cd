// The training driver (kiln/train/driver.h) and `kiln train` / `kiln info --train` /
// `kiln export CHECKPOINT`: JSONL losses equal a plain C++ loop on the same GraphModule, resume
// continues the exact run, shuffle on/off, validation accuracy, and one error line with a
// non-zero exit and no file written for every bad input.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kiln/frontend/checkpoint.h"
#include "kiln/frontend/data/dataloader.h"
#include "kiln/frontend/data/file_datasets.h"
#include "kiln/frontend/nn/loss.h"
#include "kiln/frontend/npy.h"
#include "kiln/frontend/optim.h"
#include "kiln/frontend/tensorboard/event_reader.h"
#include "kiln/onnx/model.h"
#include "kiln/train/driver.h"
#include "kiln/train/load_module.h"
#include "tools/kiln_cli.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int64_t kRows = 20;

std::vector<float> values(size_t n, double phase) {
  std::vector<float> v;
  for (size_t i = 0; i < n; ++i)
    v.push_back(static_cast<float>(std::sin(0.7 * static_cast<double>(i) + phase)));
  return v;
}

// logits = x @ fc.weight^T + fc.bias (Gemm, transB), x [N, in]; with a Hardmax between two
// layers (Hardmax has no gradient) when hard is set: out = head(hardmax(fc(x) * 2)).
Graph linear_graph(int64_t in, int64_t out, bool hard = false, const std::string& label = "model.onnx") {
  Graph g;
  g.set_label(label);
  g.add_input("x", DType::kF32, Shape{"N", in});
  g.add_initializer("fc.weight",
                    Tensor::from_vector<float>({out, in}, values(static_cast<size_t>(out * in), 0.3)));
  g.add_initializer("fc.bias", Tensor::from_vector<float>({out}, values(static_cast<size_t>(out), 1.1)));
  Attributes gemm;
  gemm.set("transB", int64_t{1});
  g.add_node({"Gemm", {"x", "fc.weight", "fc.bias"}, {hard ? "h" : "logits"}, gemm, "fc"});
  if (hard) {
    g.add_initializer("onnx::Mul_7", Tensor::from_vector<float>({1}, {2.0f}));
    g.add_node({"Mul", {"h", "onnx::Mul_7"}, {"hs"}, {}, "scale"});
    g.add_node({"Hardmax", {"hs"}, {"hm"}, {}, "hardmax"});
    g.add_initializer("head.weight",
                      Tensor::from_vector<float>({out, out}, values(static_cast<size_t>(out * out), 2.0)));
    g.add_initializer("head.bias", Tensor::from_vector<float>({out}, values(static_cast<size_t>(out), 0.5)));
    g.add_node({"Gemm", {"hm", "head.weight", "head.bias"}, {"logits"}, gemm, "head"});
  }
  g.add_output("logits");
  return g;
}

class TrainTest : public KilnCliTest {
 protected:
  void SetUp() override {
    KilnCliTest::SetUp();
    save("cls.onnx", linear_graph(4, 3));
    save("reg.onnx", linear_graph(4, 2));
    save("other.onnx", linear_graph(5, 3));
    save("hard.onnx", linear_graph(4, 3, true));
    const Tensor x = Tensor::from_vector<float>({kRows, 4}, values(kRows * 4, 0.0));
    std::vector<int64_t> classes;
    for (int64_t i = 0; i < kRows; ++i) classes.push_back((i * 7) % 3);
    write_npz(path("cls.npz"), {{"x", x}, {"y", Tensor::from_vector<int64_t>({kRows}, classes)}});
    write_npz(path("cls_val.npz"), {{"x", Tensor::from_vector<float>({8, 4}, values(32, 0.5))},
                                    {"y", Tensor::from_vector<int64_t>({8}, {0, 1, 2, 0, 1, 2, 0, 1})}});
    write_npz(path("reg.npz"),
              {{"x", x}, {"y", Tensor::from_vector<float>({kRows, 2}, values(kRows * 2, 2.0))}});
  }
  void save(const std::string& name, Graph g) {
    onnx::Model m;
    m.graph = std::move(g);
    onnx::save_model(m, path(name));
  }
  static std::vector<Json> jsonl(const std::string& file) {
    std::vector<Json> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(Json::parse(line));
    return out;
  }
  static std::vector<double> train_losses(const std::vector<Json>& lines) {
    std::vector<double> out;
    for (const Json& j : lines)
      if (j["split"] == "train") out.push_back(j["loss"].get<double>());
    return out;
  }
};

// The driver's per-step losses (JSONL) equal a hand-written loop over the same GraphModule,
// loader and optimizer: the loss of step k is its forward's, before the update.
TEST_F(TrainTest, JsonlLossesEqualAReferenceLoop) {
  train::TrainOptions o;
  o.model = path("reg.onnx");
  o.data = path("reg.npz");
  o.loss = "mse";
  o.lr = 0.05;
  o.momentum = 0.9;
  o.batch_size = 6;
  o.epochs = 3;
  o.seed = 3;
  o.metrics_out = path("m.jsonl");
  const train::TrainResult r = train::fine_tune(o);
  EXPECT_EQ(r.steps, 12);  // 4 batches (6, 6, 6, 2) x 3 epochs
  const std::vector<Json> lines = jsonl(o.metrics_out);
  ASSERT_EQ(lines.size(), 12u);

  nn::GraphModule net = train::load_module(path("reg.onnx"));
  optim::SGD opt(net->trainable_parameters(), optim::SGDOptions(0.05).momentum(0.9));
  data::DataLoader loader(std::make_shared<data::NpzDataset>(path("reg.npz")),
                          data::DataLoaderOptions().batch_size(6).shuffle(true).seed(3));
  std::vector<double> expected;
  for (int epoch = 0; epoch < 3; ++epoch)
    for (const data::Example& b : loader) {
      opt.zero_grad();
      Tensor loss = nn::functional::mse_loss(net->forward(b.data), b.target);
      expected.push_back(loss.item<double>());
      loss.backward();
      opt.step();
    }
  EXPECT_EQ(train_losses(lines), expected);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["step"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(lines[i]["epoch"], static_cast<int64_t>(i / 4 + 1));
    EXPECT_EQ(lines[i]["lr"], 0.05);
    EXPECT_EQ(lines[i]["examples"], i % 4 == 3 ? 2 : 6);
  }
  EXPECT_DOUBLE_EQ(*r.train_loss,
                   (expected[8] * 6 + expected[9] * 6 + expected[10] * 6 + expected[11] * 2) / 20);
}

// Stopping after 2 epochs and resuming to 4 writes the same JSONL lines (and weights) as 4
// epochs in one go, with Adam, a step schedule and validation; two checkpoints are kept.
TEST_F(TrainTest, ResumeContinuesExactly) {
  const std::string common =
      "train " + path("cls.onnx") + " --data " + path("cls.npz") + " --val " + path("cls_val.npz") +
      " --loss cross_entropy --optimizer adam --lr 0.05 --scheduler step --step-size 1 "
      "--gamma 0.5 --batch-size 8 --seed 7 --quiet ";
  CliResult a = kiln(common + "--epochs 4 --metrics-out " + path("a.jsonl") + " --checkpoint-dir " + path("ca"));
  ASSERT_EQ(a.code, 0) << a.err;
  CliResult b1 =
      kiln(common + "--epochs 2 --metrics-out " + path("b.jsonl") + " --checkpoint-dir " + path("cb"));
  ASSERT_EQ(b1.code, 0) << b1.err;
  CliResult b2 = kiln(common + "--epochs 4 --resume --metrics-out " + path("b.jsonl") + " --checkpoint-dir " +
                   path("cb"));
  ASSERT_EQ(b2.code, 0) << b2.err;
  const std::vector<Json> la = jsonl(path("a.jsonl")), lb = jsonl(path("b.jsonl"));
  ASSERT_EQ(la.size(), 4u * 3 + 4);  // 3 steps and one validation per epoch
  EXPECT_EQ(la, lb);
  // lr halves each epoch; validation lines carry loss and accuracy.
  EXPECT_EQ(la[4]["lr"], 0.025);
  EXPECT_EQ(la[3]["split"], "val");
  EXPECT_TRUE(la[3].contains("accuracy"));
  EXPECT_EQ(la.size(), lb.size());
  std::set<std::string> kept;
  for (const auto& e : fs::directory_iterator(path("cb"))) kept.insert(e.path().filename().string());
  EXPECT_EQ(kept, (std::set<std::string>{"epoch-3.ckpt", "epoch-4.ckpt"}));
  const Checkpoint ca = load_checkpoint(path("ca/epoch-4.ckpt")),
                   cb = load_checkpoint(path("cb/epoch-4.ckpt"));
  for (const char* name : {"model.fc.weight", "model.fc.bias"})
    EXPECT_EQ(ca.tensors.at(name).to_vector<float>(), cb.tensors.at(name).to_vector<float>()) << name;
  EXPECT_EQ(ca.metadata.at("source_model_sha256"), train::file_sha256(path("cls.onnx")));
}

TEST_F(TrainTest, ShuffleOnAndOff) {
  auto run = [&](const std::string& name, bool shuffle, uint64_t seed) {
    train::TrainOptions o;
    o.model = path("reg.onnx");
    o.data = path("reg.npz");
    o.loss = "huber";
    o.batch_size = 5;
    o.epochs = 2;
    o.shuffle = shuffle;
    o.seed = seed;
    o.metrics_out = path(name);
    train::fine_tune(o);
    return train_losses(jsonl(o.metrics_out));
  };
  const auto shuffled = run("s1.jsonl", true, 1), again = run("s2.jsonl", true, 1),
             other = run("s3.jsonl", true, 2);
  const auto plain = run("p1.jsonl", false, 1), plain_other_seed = run("p2.jsonl", false, 2);
  EXPECT_EQ(shuffled, again);
  EXPECT_NE(shuffled, other);
  EXPECT_NE(shuffled, plain);
  EXPECT_EQ(plain, plain_other_seed);  // no shuffle: the seed changes nothing
  // Unshuffled, step 1 sees rows 0..4 of the data.
  nn::GraphModule net = train::load_module(path("reg.onnx"));
  const auto d = read_npz(path("reg.npz"));
  NoGradGuard no_grad;
  const double first =
      nn::functional::huber_loss(net->forward(slice(d.at("x"), 0, 0, 5)), slice(d.at("y"), 0, 0, 5))
          .item<double>();
  EXPECT_EQ(plain[0], first);
}

// On a terminal the progress is one bar redrawn in place; otherwise plain lines. script(1)
// gives the command a pseudo-terminal.
TEST_F(TrainTest, ProgressBarOnATerminalPlainLinesOtherwise) {
  const std::string args = "train " + path("cls.onnx") + " --data " + path("cls.npz") +
                           " --loss cross_entropy --epochs 2 --batch-size 5 --no-shuffle";
  const std::string typescript = path("tty.txt");
  const std::string command = "script -qec '" + std::string(KILN_BUILD_DIR) + "/kiln " + args + "' /dev/null >" +
                              typescript + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string tty = read(typescript);
  EXPECT_NE(tty.find("\r\x1b[Kepoch 1/2 [######"), std::string::npos) << tty;
  EXPECT_NE(tty.find("] 4/4 loss "), std::string::npos) << tty;  // kRows 20 / batch 5
  EXPECT_NE(tty.find("ETA 0:00"), std::string::npos) << tty;
  const CliResult plain = kiln(args);
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.err.find('\r'), std::string::npos) << plain.err;
  EXPECT_NE(plain.err.find("epoch 2/2 step 8 (4/4) loss "), std::string::npos) << plain.err;
}

TEST_F(TrainTest, ValidationAccuracyAndFreezing) {
  train::TrainOptions o;
  o.model = path("cls.onnx");
  o.data = path("cls.npz");
  o.val = path("cls_val.npz");
  o.loss = "cross_entropy";
  o.epochs = 1;
  o.freeze = {"fc.weight"};
  o.metrics_out = path("m.jsonl");
  const train::TrainResult r = train::fine_tune(o);
  const std::vector<Json> lines = jsonl(o.metrics_out);
  ASSERT_EQ(lines.back()["split"], "val");
  ASSERT_TRUE(r.val_accuracy.has_value());
  EXPECT_EQ(lines.back()["accuracy"].get<double>(), *r.val_accuracy);
  const double acc = *r.val_accuracy * 8;
  EXPECT_NEAR(acc, std::round(acc), 1e-9);  // a count of 8 examples
  // Globs: --freeze after --train-only; an unmatched one is reported.
  nn::GraphModule net = train::load_module(path("cls.onnx"));
  const train::FreezeResult f = train::apply_freezing(net, {"fc.weight"}, {});
  EXPECT_TRUE(f.unmatched.empty());
  EXPECT_EQ(net->trainable_names(), std::vector<std::string>{"fc.bias"});
  const train::FreezeResult g = train::apply_freezing(net, {"nothing.*"}, {"fc.*"});
  EXPECT_EQ(g.unmatched, std::vector<std::string>{"--freeze 'nothing.*'"});
  EXPECT_EQ(net->trainable_names().size(), 2u);
}

TEST_F(TrainTest, BadInputsFailBeforeTraining) {
  const std::string model = path("cls.onnx"), metrics = " --metrics-out " + path("m.jsonl");
  write_npz(path("f64.npz"), {{"x", Tensor::from_vector<double>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})},
                              {"y", Tensor::from_vector<int64_t>({2}, {0, 1})}});
  write_npz(path("wide.npz"), {{"x", Tensor::from_vector<float>({2, 5}, values(10, 0))},
                               {"y", Tensor::from_vector<int64_t>({2}, {0, 1})}});
  write_npz(path("range.npz"), {{"x", Tensor::from_vector<float>({4, 4}, values(16, 0))},
                                {"y", Tensor::from_vector<int64_t>({4}, {0, 1, 7, 2})}});
  expect_failure("train " + model + " --data " + path("f64.npz") + " --loss cross_entropy" + metrics,
                 "InvalidArgument", {"f64.npz", "input 'x'", "dtype f64", "expects f32"});
  expect_failure("train " + model + " --data " + path("wide.npz") + " --loss cross_entropy" + metrics,
                 "InvalidArgument", {"wide.npz", "input 'x'", "[2,5]", "[N,4]"});
  expect_failure("train " + model + " --data " + path("range.npz") + " --loss cross_entropy" + metrics,
                 "InvalidArgument", {"range.npz", "y[2] = 7", "[0, 3)", "'logits'", "batch 1"});
  expect_failure(
      "train " + path("hard.onnx") + " --data " + path("cls.npz") + " --loss cross_entropy" + metrics,
      "InvalidArgument", {"node 'hardmax' (Hardmax)", "without a gradient"});
  expect_failure(
      "train " + model + " --data " + path("cls.npz") + " --loss cross_entropy --freeze 'fc.*'" + metrics,
      "InvalidArgument", {"every parameter is frozen"});
  expect_failure("train " + model + " --data " + path("cls.npz") + " --loss cross_entropy --export " +
                     path("missing/out.onnx") + " --checkpoint-dir " + path("ck") + metrics,
                 "NotFound", {"missing/out.onnx", "does not exist"});
  expect_failure("train " + model + " --data " + path("cls.npz") + " --loss hinge", "InvalidArgument",
                 {"--loss 'hinge'", "cross_entropy"});
  expect_failure("train " + model + " --data " + path("cls.npz") + " --loss mse --resume", "InvalidArgument",
                 {"--resume needs --checkpoint-dir"});
  // Training only the layer after the Hardmax is fine: it is no longer on a gradient's path.
  CliResult ok = kiln("train " + path("hard.onnx") + " --data " + path("cls.npz") +
                   " --loss cross_entropy --train-only 'head.*' --quiet");
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST_F(TrainTest, FreezeGlobMatchingNothingWarns) {
  CliResult r = kiln("train " + path("cls.onnx") + " --data " + path("cls.npz") +
                  " --loss cross_entropy --freeze 'layer9.*' --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("kiln: warning: --freeze 'layer9.*' matches no parameter"), std::string::npos)
      << r.err;
  // A glob set that freezes everything: the warning, then the error (exit 1, nothing written).
  const auto before = files();
  CliResult all = kiln("train " + path("cls.onnx") + " --data " + path("cls.npz") +
                    " --loss cross_entropy --train-only 'x*' --metrics-out " + path("m.jsonl"));
  EXPECT_EQ(all.code, 1);
  EXPECT_EQ(all.err.rfind("kiln: warning: --train-only 'x*' matches no parameter", 0), 0u) << all.err;
  EXPECT_NE(all.err.find("\nkiln: error [InvalidArgument]: " + path("cls.onnx") +
                         ": every parameter is frozen (2 frozen); nothing would train\n"),
            std::string::npos)
      << all.err;
  EXPECT_EQ(files(), before);
}

TEST_F(TrainTest, ResumeFromAnotherModelsCheckpointFails) {
  CliResult a = kiln("train " + path("cls.onnx") + " --data " + path("cls.npz") +
                  " --loss cross_entropy --quiet --checkpoint-dir " + path("ck"));
  ASSERT_EQ(a.code, 0) << a.err;
  write_npz(path("five.npz"), {{"x", Tensor::from_vector<float>({4, 5}, values(20, 0))},
                               {"y", Tensor::from_vector<int64_t>({4}, {0, 1, 2, 0})}});
  expect_failure("train " + path("other.onnx") + " --data " + path("five.npz") +
                     " --loss cross_entropy --resume --checkpoint-dir " + path("ck") + " --metrics-out " +
                     path("m.jsonl"),
                 "InvalidArgument", {"epoch-1.ckpt", "different model", "fc.weight"});
}

TEST_F(TrainTest, NonFiniteLossStopsNamingTheStep) {
  write_npz(path("nan.npz"),
            {{"x", Tensor::from_vector<float>({4, 4}, {1, 2, 3, 4, 1, 2, 3, 4, NAN, 0, 0, 0, 1, 1, 1, 1})},
             {"y", Tensor::from_vector<float>({4, 2}, values(8, 0))}});
  CliResult r = kiln("train " + path("reg.onnx") + " --data " + path("nan.npz") +
                  " --loss mse --batch-size 2 --no-shuffle --quiet");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("step 2: loss is nan"), std::string::npos) << r.err;
  CliResult ok = kiln("train " + path("reg.onnx") + " --data " + path("nan.npz") +
                   " --loss mse --batch-size 2 --no-shuffle --quiet --allow-nonfinite-loss --metrics-out " +
                   path("m.jsonl"));
  EXPECT_EQ(ok.code, 0) << ok.err;
  const std::vector<Json> lines = jsonl(path("m.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1]["loss"].is_null());
  EXPECT_EQ(lines[1]["skipped"], true);
}

TEST_F(TrainTest, InfoTrainPreflight) {
  CliResult r = kiln("info --json --train --freeze 'fc.bias' " + path("hard.onnx"));
  ASSERT_EQ(r.code, 0) << r.err;
  const Json t = Json::parse(r.out)["train"];
  EXPECT_EQ(t["trainable"], Json::parse(R"(["fc.weight [3,4]", "head.weight [3,3]", "head.bias [3]"])"));
  EXPECT_EQ(t["frozen"], Json::parse(R"(["fc.bias [3]"])"));
  EXPECT_EQ(t["non_differentiable"], Json::array({"node 'hardmax' (Hardmax)"}));
  EXPECT_EQ(t["unmapped_constants"], Json::array({"onnx::Mul_7"}));
  EXPECT_EQ(t["ready"], false);
  CliResult ready = kiln("info --train --train-only 'head.*' " + path("hard.onnx"));
  ASSERT_EQ(ready.code, 0) << ready.err;
  EXPECT_NE(ready.out.find("training (kiln train preflight): ready"), std::string::npos) << ready.out;
  EXPECT_NE(ready.out.find("  frozen (2):\n    fc.weight [3,4]\n    fc.bias [3]\n"), std::string::npos)
      << ready.out;
}

// A torch 2.15 (dynamo) export whose optimizer folded a BatchNorm into the Conv before it
// (the node's rule_name metadata) and lifted a scale to the constant "val_3": the preflight
// notes the folded conv and lists the constant as frozen.
TEST_F(TrainTest, InfoTrainReportsBatchNormFoldedByTheDynamoRewriter) {
  Graph g;
  g.set_label("folded.onnx");
  g.add_input("x", DType::kF32, Shape{"N", 1, 2, 2});
  g.add_initializer("features.0.weight", Tensor::from_vector<float>({2, 1, 1, 1}, {2, -1}));
  g.add_initializer("features.0.bias", Tensor::from_vector<float>({2}, {0.5f, 0.25f}));
  g.add_initializer("val_3", Tensor::from_vector<float>({}, {0.5f}));
  Metadata folded{
      {"pkg.torch.onnx.name_scopes", "['', 'features', 'features.1', '_native_batch_norm']"},
      {"pkg.torch.onnx.class_hierarchy",
       "['m.Cnn', 'torch.nn.modules.container.Sequential', 'torch.nn.modules.batchnorm.BatchNorm2d', "
       "'aten._native_batch_norm_legit_no_training.default']"},
      {"pkg.onnxscript.rewriter.rule_name", "FuseBatchNormIntoConv"}};
  g.add_node({"Conv", {"x", "features.0.weight", "features.0.bias"}, {"c"}, {}, "node_Conv_13", "", folded});
  g.add_node({"Mul", {"c", "val_3"}, {"logits"}, {}, "scale"});
  g.add_output("logits");
  g.set_metadata({{"pkg.torch.export.ExportedProgram.graph_signature",
                   "p_features_0_weight: PARAMETER target='features.0.weight'\n"
                   "p_features_1_weight: PARAMETER target='features.1.weight'\n"
                   "b_features_1_running_mean: BUFFER target='features.1.running_mean'\n"}});
  save("folded.onnx", std::move(g));
  CliResult r = kiln("info --json --train " + path("folded.onnx"));
  ASSERT_EQ(r.code, 0) << r.err;
  const Json t = Json::parse(r.out)["train"];
  EXPECT_EQ(t["trainable"], Json::parse(R"(["features.0.weight [2,1,1,1]", "features.0.bias [2]"])"));
  EXPECT_EQ(t["unmapped_constants"], Json::array({"val_3"}));
  bool noted = false;
  for (const Json& note : t["notes"])
    noted = noted ||
            note.get<std::string>().rfind(
                "folded BatchNorm: features.0.weight (node 'node_Conv_13' (Conv)): a BatchNorm folded in "
                "at export (FuseBatchNormIntoConv)",
                0) == 0;
  EXPECT_TRUE(noted) << t["notes"].dump();
  // The BatchNorm's weight is gone from the file (its running statistics were buffers).
  std::vector<std::string> missing;
  for (const Json& note : t["notes"])
    if (note.get<std::string>().rfind("missing: ", 0) == 0) missing.push_back(note.get<std::string>());
  ASSERT_EQ(missing.size(), 1u) << t["notes"].dump();
  EXPECT_EQ(missing[0].rfind("missing: features.1.weight is a parameter of the PyTorch module", 0), 0u);
}

TEST_F(TrainTest, ExportFromACheckpoint) {
  CliResult a = kiln("train " + path("cls.onnx") + " --data " + path("cls.npz") +
                  " --loss cross_entropy --epochs 2 --lr 0.1 --quiet --checkpoint-dir " + path("ck") +
                  " --export " + path("direct.onnx"));
  ASSERT_EQ(a.code, 0) << a.err;
  CliResult e = kiln("export " + path("ck/epoch-2.ckpt") + " -o " + path("from_ckpt.onnx"));
  ASSERT_EQ(e.code, 0) << e.err;
  const onnx::Model direct = onnx::load_model(path("direct.onnx")),
                    exported = onnx::load_model(path("from_ckpt.onnx"));
  const Checkpoint c = load_checkpoint(path("ck/epoch-2.ckpt"));
  for (const char* name : {"fc.weight", "fc.bias"}) {
    const auto w = exported.graph.find_value(name)->initializer()->to_vector<float>();
    EXPECT_EQ(w, c.tensors.at(std::string("model.") + name).to_vector<float>()) << name;
    EXPECT_EQ(w, direct.graph.find_value(name)->initializer()->to_vector<float>()) << name;
    EXPECT_NE(w,
              onnx::load_model(path("cls.onnx")).graph.find_value(name)->initializer()->to_vector<float>());
  }
  // --model overrides the recorded path; another model's checkpoint is refused with the differences.
  fs::copy_file(path("cls.onnx"), path("moved.onnx"));
  CliResult moved =
      kiln("export " + path("ck/epoch-2.ckpt") + " --model " + path("moved.onnx") + " -o " + path("m2.onnx"));
  EXPECT_EQ(moved.code, 0) << moved.err;
  expect_failure(
      "export " + path("ck/epoch-2.ckpt") + " --model " + path("other.onnx") + " -o " + path("m3.onnx"),
      "InvalidArgument", {"different model", "fc.weight"});
  expect_failure("export " + path("ck/epoch-2.ckpt") + " -o " + path("nowhere/m.onnx"), "NotFound",
                 {"nowhere/m.onnx", "does not exist"});
}

// --opset N writes the trained model at another opset (here 17 -> 11, where Gemm's form
// differs); an opset onnx does not know, or --opset without -o, fails with one line and no file.
TEST_F(TrainTest, ExportAtAnotherOpset) {
  CliResult a = kiln("train " + path("cls.onnx") + " --data " + path("cls.npz") +
                     " --loss cross_entropy --epochs 1 --lr 0.1 --quiet --checkpoint-dir " + path("ck"));
  ASSERT_EQ(a.code, 0) << a.err;
  CliResult e = kiln("export " + path("ck/epoch-1.ckpt") + " -o " + path("v11.onnx") + " --opset 11");
  ASSERT_EQ(e.code, 0) << e.err;
  const onnx::Model v11 = onnx::load_model(path("v11.onnx"));
  EXPECT_EQ(v11.graph.opset(), 11);
  EXPECT_EQ(v11.ir_version, 6);
  const Checkpoint c = load_checkpoint(path("ck/epoch-1.ckpt"));
  for (const char* name : {"fc.weight", "fc.bias"})
    EXPECT_EQ(v11.graph.find_value(name)->initializer()->to_vector<float>(),
              c.tensors.at(std::string("model.") + name).to_vector<float>())
        << name;
  expect_failure("export " + path("ck/epoch-1.ckpt") + " -o " + path("v99.onnx") + " --opset 99", "InvalidArgument",
                 {"opset 99", "7 to 28"});
  expect_failure("export " + path("ck/epoch-1.ckpt") + " --safetensors " + path("w.safetensors") + " --opset 13",
                 "InvalidArgument", {"--opset 13", "-o OUT.onnx"});
}

// --logdir: TensorBoard's per-step train loss equals the JSONL losses (as float32), with one
// val loss and val accuracy per epoch.
TEST_F(TrainTest, LogdirScalarsMatchTheMetrics) {
  train::TrainOptions o;
  o.model = path("cls.onnx");
  o.data = path("cls.npz");
  o.val = path("cls_val.npz");
  o.loss = "cross_entropy";
  o.epochs = 2;
  o.batch_size = 8;
  o.logdir = path("logs");
  o.metrics_out = path("m.jsonl");
  train::fine_tune(o);
  const std::vector<std::string> events = tensorboard::find_event_files(o.logdir);
  ASSERT_FALSE(events.empty());
  std::map<std::string, std::vector<tensorboard::ScalarPoint>> scalars;
  for (const std::string& f : events)
    for (auto& [tag, points] : tensorboard::scalars_of(tensorboard::read_event_file(f)))
      scalars[tag].insert(scalars[tag].end(), points.begin(), points.end());
  const std::vector<double> losses = train_losses(jsonl(o.metrics_out));
  ASSERT_EQ(scalars["loss/train_step"].size(), losses.size());
  for (size_t i = 0; i < losses.size(); ++i) {
    EXPECT_EQ(scalars["loss/train_step"][i].step, static_cast<int64_t>(i + 1));
    EXPECT_EQ(scalars["loss/train_step"][i].value, static_cast<double>(static_cast<float>(losses[i])));
  }
  EXPECT_EQ(scalars["loss/val"].size(), 2u);
  EXPECT_EQ(scalars["accuracy/val"].size(), 2u);
  EXPECT_EQ(scalars["loss/train"].size(), 2u);
}

TEST(FileSha256, KnownDigests) {
  const fs::path dir = fs::temp_directory_path() / ("kiln_sha_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto digest = [&](const std::string& bytes) {
    std::ofstream((dir / "f").string(), std::ios::binary) << bytes;
    return train::file_sha256((dir / "f").string());
  };
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(digest(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  fs::remove_all(dir);
  EXPECT_THROW(train::file_sha256((dir / "f").string()), Error);
}

}  // namespace
}  // namespace kiln

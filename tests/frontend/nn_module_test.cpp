// nn::Module: registration, PyTorch's dotted names and orders, train/eval, dtype moves,
// zero_grad, state_dict round trips and load errors, holders and Sequential.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "kiln/frontend/nn.h"
#include "kiln/runtime/backend.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nntest::expect_error;
using nntest::values;

std::vector<std::string> keys_of(const nn::OrderedDict<Tensor>& d) { return d.keys(); }

// A module with its own parameter and buffer registered around its children, like a PyTorch
// module whose __init__ mixes them.
class NetImpl : public nn::Module {
 public:
  NetImpl() : Module("Net") {
    fc = register_module("fc", nn::Linear(3, 4));
    scale = register_parameter("scale", ones({4}));
    features = register_module(
        "features",
        nn::Sequential(nn::Linear(4, 4), nn::ReLU(), nn::Sequential(nn::Linear(4, 2), nn::BatchNorm1d(2))));
    register_buffer("steps", zeros({1}));
  }
  Tensor forward(const Tensor& x) override { return features->forward(fc->forward(x) * scale); }
  nn::Linear fc{nullptr};
  nn::Sequential features{nullptr};
  Tensor scale;
};
KILN_MODULE(Net);

TEST(NnModule, DesignSketchBuildsAndNamesLikePyTorch) {
  auto model = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1));
  std::vector<Tensor> params = model->parameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(keys_of(model->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(params[0].shape(), (Dims{10, 1}));
  EXPECT_EQ(params[1].shape(), (Dims{10}));
  EXPECT_EQ(params[2].shape(), (Dims{1, 10}));
  for (const Tensor& p : params) EXPECT_TRUE(p.requires_grad());
  nn::MSELoss criterion;
  Tensor x = linspace(0, 1, 8).reshape({8, 1});
  Tensor loss = criterion(model->forward(x), x);
  EXPECT_EQ(loss.rank(), 0u);
  EXPECT_TRUE(std::isfinite(loss.item<float>()));
  // The handle reaches the Impl; the parameters are the module's own tensors.
  auto first = model->ptr<nn::LinearImpl>(0);
  EXPECT_EQ(first->options.out_features(), 10);
  EXPECT_EQ(first->weight.storage(), params[0].storage());
}

TEST(NnModule, NestedNamesAndStateDictOrder) {
  Net net;
  // PyTorch: a module's own parameters come before its children's, whatever the order of
  // registration; state_dict puts each module's buffers after its parameters.
  EXPECT_EQ(keys_of(net->named_parameters()),
            (std::vector<std::string>{"scale", "fc.weight", "fc.bias", "features.0.weight", "features.0.bias",
                                      "features.2.0.weight", "features.2.0.bias", "features.2.1.weight",
                                      "features.2.1.bias"}));
  EXPECT_EQ(keys_of(net->named_buffers()),
            (std::vector<std::string>{"steps", "features.2.1.running_mean", "features.2.1.running_var",
                                      "features.2.1.num_batches_tracked"}));
  EXPECT_EQ(keys_of(net->state_dict()),
            (std::vector<std::string>{"scale", "steps", "fc.weight", "fc.bias", "features.0.weight",
                                      "features.0.bias", "features.2.0.weight", "features.2.0.bias",
                                      "features.2.1.weight", "features.2.1.bias", "features.2.1.running_mean",
                                      "features.2.1.running_var", "features.2.1.num_batches_tracked"}));
  EXPECT_EQ(keys_of(net->named_parameters(/*recurse=*/false)), (std::vector<std::string>{"scale"}));
  EXPECT_EQ(net->named_children().keys(), (std::vector<std::string>{"fc", "features"}));
  EXPECT_EQ(net->named_modules().keys(),
            (std::vector<std::string>{"", "fc", "features", "features.0", "features.1", "features.2",
                                      "features.2.0", "features.2.1"}));
  EXPECT_EQ(net->modules(false).size(), 7u);
  EXPECT_EQ(net->state_dict()["features.2.1.num_batches_tracked"].dtype(), DType::kI64);
}

TEST(NnModule, BiasFalseIsLeftOutLikeNone) {
  nn::Linear fc(nn::LinearOptions(3, 2).bias(false));
  EXPECT_FALSE(fc->bias.defined());
  EXPECT_EQ(keys_of(fc->named_parameters()), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(keys_of(fc->state_dict()), (std::vector<std::string>{"weight"}));
}

TEST(NnModule, RegistrationErrors) {
  nn::Module m("Custom");
  m.register_parameter("w", zeros({2}));
  expect_error([&] { m.register_parameter("w", zeros({2})); }, {"Custom", "'w' is already registered"});
  expect_error([&] { m.register_buffer("a.b", zeros({2})); }, {"may not contain '.'"});
  expect_error([&] { m.register_parameter("", zeros({2})); }, {"may not be empty"});
  expect_error([&] { m.register_parameter("i", Tensor::zeros({2}, DType::kI64)); }, {"only floating"});
  expect_error([&] { m.forward(zeros({1})); }, {"Custom", "no forward"});
  nn::Linear empty{nullptr};
  EXPECT_TRUE(empty.is_empty());
  expect_error([&] { empty->forward(zeros({1, 1})); }, {"empty module holder"});
}

TEST(NnModule, TrainAndEvalReachEverySubmodule) {
  Net net;
  for (const auto& m : net->modules()) EXPECT_TRUE(m->is_training());
  net->eval();
  for (const auto& m : net->modules()) EXPECT_FALSE(m->is_training()) << m->name();
  net->features->train();
  EXPECT_FALSE(net->is_training());
  EXPECT_FALSE(net->fc->is_training());
  for (const auto& m : net->features->modules()) EXPECT_TRUE(m->is_training());
  net->train();
  for (const auto& m : net->modules()) EXPECT_TRUE(m->is_training());
}

TEST(NnModule, StateDictRoundTrip) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  EXPECT_NE(values(a->fc->weight), values(b->fc->weight));
  // Change a's buffers too, so their copy is visible.
  auto bn = a->features->ptr<nn::SequentialImpl>(2)->ptr<nn::BatchNorm1dImpl>(1);
  bn->running_mean.copy_from(Tensor::from_vector<float>({2}, {0.5f, -0.5f}));
  bn->num_batches_tracked.copy_from(Tensor::scalar<int64_t>(7));
  b->load_state_dict(a->state_dict());
  auto sa = a->state_dict(), sb = b->state_dict();
  for (const auto& item : sa) {
    EXPECT_EQ(values(item.second), values(sb[item.first])) << item.first;
    EXPECT_NE(item.second.storage(), sb[item.first].storage()) << item.first << " must be copied, not shared";
  }
  EXPECT_TRUE(b->fc->weight.requires_grad());
  Tensor x = uniform({5, 3}, -1, 1);
  a->eval();
  b->eval();
  EXPECT_EQ(values(a->forward(x)), values(b->forward(x)));
  // From a std::map, as a Checkpoint holds it.
  manual_seed(3);
  Net c;
  c->load_state_dict(sa.to_map());
  EXPECT_EQ(values(c->fc->bias), values(a->fc->bias));
  EXPECT_EQ(c->state_dict()["features.2.1.num_batches_tracked"].item<int64_t>(), 7);
}

TEST(NnModule, LoadStateDictListsEveryProblemAndCopiesNothing) {
  Net net;
  const std::vector<double> before = values(net->fc->weight);
  auto state = net->state_dict();
  nn::OrderedDict<Tensor> bad;
  for (const auto& item : state)
    if (item.first != "fc.bias" && item.first != "steps")
      bad.insert(item.first, Tensor::zeros(item.second.shape(), item.second.dtype()));
  bad.insert_or_assign("features.0.weight", zeros({4, 5}));
  bad.insert("head.weight", zeros({1}));
  expect_error([&] { net->load_state_dict(bad); },
               {"load_state_dict for Net", "missing keys: steps, fc.bias", "unexpected keys: head.weight",
                "features.0.weight (state has [4,5], model has [4,4])"});
  EXPECT_EQ(values(net->fc->weight), before) << "a failed load must not change the model";
  // Not strict: missing and unexpected names are allowed, shape mismatches are not.
  expect_error([&] { net->load_state_dict(bad, /*strict=*/false); }, {"shape mismatch: features.0.weight"});
  bad.insert_or_assign("features.0.weight", zeros({4, 4}));
  net->load_state_dict(bad, /*strict=*/false);
  EXPECT_EQ(values(net->fc->weight), std::vector<double>(12, 0.0));
  EXPECT_EQ(values(net->fc->bias).size(), 4u);
}

TEST(NnModule, LoadStateDictConvertsDtype) {
  nn::Linear fc(2, 1);
  std::map<std::string, Tensor> state{{"weight", Tensor::from_vector<double>({1, 2}, {1.5, -2.0})},
                                      {"bias", Tensor::from_vector<double>({1}, {0.25})}};
  fc->load_state_dict(state);
  EXPECT_EQ(fc->weight.dtype(), DType::kF32);
  EXPECT_EQ(values(fc->weight), (std::vector<double>{1.5, -2.0}));
  state["bias"] = Tensor::from_vector<int64_t>({1}, {1});
  expect_error([&] { fc->load_state_dict(state); }, {"bias (state has dtype i64, model has f32)"});
}

TEST(NnModule, ToDtypeKeepsParametersAndHandles) {
  nn::Sequential model(nn::Linear(2, 3), nn::BatchNorm1d(3));
  model->to(DType::kF64);
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.second.dtype(), DType::kF64) << item.first;
    EXPECT_TRUE(item.second.requires_grad()) << item.first;
  }
  auto bn = model->ptr<nn::BatchNorm1dImpl>(1);
  EXPECT_EQ(bn->running_var.dtype(), DType::kF64);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), DType::kI64);
  // The handle in the layer follows the move.
  auto fc = model->ptr<nn::LinearImpl>(0);
  EXPECT_EQ(fc->weight.dtype(), DType::kF64);
  EXPECT_EQ(fc->weight.storage(), model->named_parameters()["0.weight"].storage());
  expect_error([&] { model->to(DType::kI64); }, {"needs a floating dtype"});
  model->to(Device::host());
  EXPECT_EQ(model->parameters().size(), 4u);
}

TEST(NnModule, ToDeviceMovesParametersAndBuffers) {
  const std::string plugin = KILN_TEST_PLUGIN_DIR "/libkiln_backend_test.so";
  if (!std::filesystem::exists(plugin)) GTEST_SKIP() << "the test backend is not built: " << plugin;
  BackendRegistry registry({plugin});
  ASSERT_NE(registry.find("test"), nullptr);
  const Device device{registry.find("test"), 0};
  nn::Sequential model(nn::Linear(2, 3), nn::BatchNorm1d(3));
  const auto before = model->state_dict();
  std::map<std::string, std::vector<double>> host_values;
  for (const auto& item : before) host_values[item.first] = values(item.second);
  auto fc = model->ptr<nn::LinearImpl>(0);
  fc->weight.set_grad(ones({3, 2}));
  model->to(device);
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.second.device(), device) << item.first;
    EXPECT_TRUE(item.second.requires_grad()) << item.first;
    EXPECT_TRUE(item.second.is_leaf()) << item.first;
  }
  for (const auto& item : model->named_buffers()) EXPECT_EQ(item.second.device(), device) << item.first;
  EXPECT_EQ(fc->weight.device(), device) << "the layer's handle follows";
  EXPECT_EQ(fc->weight.grad().device(), device) << "the gradient moves too";
  model->to(Device::host());
  for (const auto& item : model->state_dict()) {
    EXPECT_TRUE(item.second.device().is_host()) << item.first;
    EXPECT_EQ(values(item.second), host_values[item.first]) << item.first;
  }
  EXPECT_EQ(values(fc->weight.grad()), std::vector<double>(6, 1.0));
}

TEST(NnModule, ZeroGrad) {
  nn::Linear fc(2, 1);
  Tensor loss = sum(fc->forward(ones({3, 2})));
  loss.backward();
  ASSERT_TRUE(fc->weight.grad().defined());
  EXPECT_EQ(values(fc->bias.grad()), (std::vector<double>{3.0}));
  fc->zero_grad(/*set_to_none=*/false);
  EXPECT_EQ(values(fc->bias.grad()), (std::vector<double>{0.0}));
  fc->zero_grad();
  EXPECT_FALSE(fc->weight.grad().defined());
  EXPECT_FALSE(fc->bias.grad().defined());
}

TEST(NnModule, SequentialIndexingAndErrors) {
  nn::Sequential seq;
  EXPECT_TRUE(seq->is_empty());
  seq->push_back(nn::Linear(4, 3));
  seq->push_back(nn::Tanh());
  seq->push_back(std::make_shared<nn::LinearImpl>(3, 2));
  EXPECT_EQ(seq->size(), 3u);
  EXPECT_EQ((*seq)[1]->name(), "Tanh");
  EXPECT_EQ(keys_of(seq->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  expect_error([&] { (*seq)[3]; }, {"index 3 is out of range for 3 modules"});
  expect_error([&] { seq->ptr<nn::LinearImpl>(1); }, {"module 1 is a Tanh"});
  // An error inside says which module failed.
  expect_error(
      [&] {
        seq->forward(zeros({2, 5}));
      },
      {"Sequential[0] (Linear)", "input [2,5] has 5 features in its last dim, expected in_features=4"});
  EXPECT_EQ(seq->forward(zeros({2, 4})).shape(), (Dims{2, 2}));
  EXPECT_EQ(seq(zeros({1, 4})).shape(), (Dims{1, 2}));
}

TEST(NnModule, NamedSequentialAndApply) {
  nn::Sequential seq;
  seq->push_back("fc1", nn::Linear(2, 3));
  seq->push_back("act", nn::ReLU());
  seq->push_back(nn::Linear(3, 1));  // named by its index
  EXPECT_EQ(keys_of(seq->named_parameters()),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "2.weight", "2.bias"}));
  EXPECT_EQ((*seq)[1]->name(), "ReLU");
  expect_error([&] { seq->push_back("act", nn::Tanh()); }, {"'act' is already registered"});
  // apply: a custom initialization of every Linear.
  std::vector<std::string> visited;
  seq->apply([&](nn::Module& m) {
    visited.push_back(m.name());
    if (auto* fc = dynamic_cast<nn::LinearImpl*>(&m)) nn::init::constant_(fc->weight, 0.5);
  });
  EXPECT_EQ(visited, (std::vector<std::string>{"Sequential", "Linear", "ReLU", "Linear"}));
  EXPECT_EQ(values(seq->named_parameters()["2.weight"]), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(NnModule, PrintsLikePyTorch) {
  auto model = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Dropout(0.25));
  const std::string s = model->to_string();
  EXPECT_NE(
      s.find("Sequential(\n  (0): Linear(in_features=1, out_features=10, bias=true)\n  (1): ReLU()\n  (2): "
             "Dropout(p=0.25)\n)"),
      std::string::npos)
      << s;
}

}  // namespace
}  // namespace kiln

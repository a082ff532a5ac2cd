// Whole models: the DESIGN sketch's MLP trained on sin(x) with plain SGD, a small CNN whose
// gradients match central differences end to end, and models whose data does not fit, with
// errors that name the layer.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/frontend/nn.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nntest::expect_error;
using nntest::expect_gradients_match;
using nntest::random64;
using nntest::values;

TEST(NnModel, SineMlpLearnsWithSgd) {
  manual_seed(1);
  auto model = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1));
  nn::MSELoss criterion;
  Tensor x = linspace(0, 5, 100).reshape({100, 1});
  std::vector<float> yv;
  for (float v : x.to_vector<float>()) yv.push_back(std::sin(v));
  Tensor y = Tensor::from_vector<float>({100, 1}, yv);
  std::vector<double> losses;
  for (int epoch = 0; epoch < 300; ++epoch) {
    model->zero_grad();
    Tensor loss = criterion(model->forward(x), y);
    loss.backward();
    losses.push_back(loss.item<double>());
    NoGradGuard no_grad;
    for (Tensor& p : model->parameters()) p.copy_from(p - p.grad() * 0.1);
  }
  EXPECT_TRUE(std::isfinite(losses.back()));
  EXPECT_LT(losses.back(), 0.5 * losses.front()) << "first " << losses.front() << ", last " << losses.back();
  EXPECT_LT(losses.back(), 0.2);
}

class SmallCnnImpl : public nn::Module {
 public:
  SmallCnnImpl() : Module("SmallCnn") {
    features = register_module("features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 2, 3).padding(1)),
                                                          nn::ReLU(), nn::MaxPool2d(2), nn::BatchNorm2d(2)));
    fc = register_module("fc", nn::Linear(2 * 3 * 3, 3));
  }
  Tensor forward(const Tensor& x) override { return fc->forward(flatten(features->forward(x), 1)); }
  nn::Sequential features{nullptr};
  nn::Linear fc{nullptr};
};
KILN_MODULE(SmallCnn);

TEST(NnModel, CnnGradientsMatchFiniteDifferences) {
  KILN_SKIP_WITHOUT_GRADIENTS("Conv", "Relu", "MaxPool", "BatchNormalization", "Gemm", "Reshape",
                              "SoftmaxCrossEntropyLoss");
  manual_seed(4);
  SmallCnn net;
  net->to(DType::kF64);
  EXPECT_EQ(net->named_parameters().keys(),
            (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.3.weight",
                                      "features.3.bias", "fc.weight", "fc.bias"}));
  Tensor x = random64({4, 1, 6, 6}, 12, -1, 1);
  Tensor target = Tensor::from_vector<int64_t>({4}, {0, 2, 1, 2});
  nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().label_smoothing(0.1));
  expect_gradients_match([&] { return criterion(net->forward(x), target); }, net->parameters(), "cnn");
}

TEST(NnModel, DataThatDoesNotFitNamesTheLayer) {
  SmallCnn net;
  // 8x8 images make 4x4 feature maps: 32 features for a Linear that expects 18.
  expect_error(
      [&] {
        net->forward(zeros({2, 1, 8, 8}));
      },
      {"Linear: input [2,32] has 32 features in its last dim, expected in_features=18"});
  expect_error(
      [&] {
        net->forward(zeros({2, 3, 6, 6}));
      },
      {"Sequential[0] (Conv2d)", "input [2,3,6,6] has 3 channels (dim 1), expected in_channels=1"});
  expect_error([&] { net->forward(zeros({2, 36})); }, {"Sequential[0] (Conv2d)", "has rank 2, expected 4"});
  // Loss against the wrong target.
  nn::CrossEntropyLoss ce;
  expect_error(
      [&] {
        ce(net->forward(zeros({2, 1, 6, 6})), Tensor::zeros({3}, DType::kI64));
      },
      {"target shape [3] does not fit input [2,3]"});
  auto mlp = nn::Sequential(nn::Linear(1, 10), nn::ReLU(), nn::Linear(10, 1));
  expect_error(
      [&] {
        nn::MSELoss()(mlp->forward(zeros({4, 1})), zeros({4}));
      },
      {"MSELoss: input shape [4,1] and target shape [4] differ"});
}

}  // namespace
}  // namespace kiln

// Layers: forward values against float64 loops written here (Linear, Conv2d with stride,
// padding, dilation and groups, pooling with PyTorch's ceil_mode and count_include_pad,
// activations, Embedding), Dropout in train and eval, shape errors, and gradients of the
// layers' parameters against central differences.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/frontend/nn.h"
#include "nn_test_util.h"

namespace kiln {
namespace {

using nntest::expect_error;
using nntest::expect_gradients_match;
using nntest::expect_values_near;
using nntest::random64;
using nntest::t64;
using nntest::values;

TEST(NnLinear, ForwardMatchesReference) {
  nn::Linear fc(3, 2);
  fc->to(DType::kF64);
  Tensor x = random64({4, 3}, 1);
  const std::vector<double> w = values(fc->weight), b = values(fc->bias), xv = values(x);
  std::vector<double> ref;
  for (size_t n = 0; n < 4; ++n)
    for (size_t o = 0; o < 2; ++o) {
      double s = b[o];
      for (size_t i = 0; i < 3; ++i) s += xv[n * 3 + i] * w[o * 3 + i];
      ref.push_back(s);
    }
  expect_values_near(fc->forward(x), ref, 1e-12);
  // Leading dims: [2, 2, 3] behaves like [4, 3].
  Tensor y3 = fc->forward(x.reshape({2, 2, 3}));
  EXPECT_EQ(y3.shape(), (Dims{2, 2, 2}));
  expect_values_near(y3, ref, 1e-12);
  nn::Linear nobias(nn::LinearOptions(3, 2).bias(false));
  nobias->to(DType::kF64);
  nobias->weight.copy_from(fc->weight.detach());
  std::vector<double> ref_nb = ref;
  for (size_t k = 0; k < ref.size(); ++k) ref_nb[k] -= b[k % 2];
  expect_values_near(nobias->forward(x), ref_nb, 1e-12);
  expect_error(
      [&] {
        fc->forward(random64({4, 2}, 1));
      },
      {"Linear: input [4,2] has 2 features in its last dim, expected in_features=3"});
}

// Naive conv2d, PyTorch's definition: x [N,C,H,W], w [O,C/g,kh,kw].
std::vector<double> conv_ref(const Tensor& xt, const Tensor& wt, const Tensor& bt, int64_t stride,
                             int64_t pad, int64_t dil, int64_t groups, Dims& out_shape) {
  const std::vector<double> x = values(xt), w = values(wt);
  const std::vector<double> b =
      bt.defined() ? values(bt) : std::vector<double>(static_cast<size_t>(wt.dim(0)), 0.0);
  const int64_t n = xt.dim(0), c = xt.dim(1), h = xt.dim(2), wd = xt.dim(3);
  const int64_t o = wt.dim(0), cg = wt.dim(1), kh = wt.dim(2), kw = wt.dim(3);
  const int64_t oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1,
                ow = (wd + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
  out_shape = {n, o, oh, ow};
  std::vector<double> out;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double s = b[static_cast<size_t>(oc)];
          const int64_t g = oc / (o / groups);
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t yy = y * stride - pad + i * dil, xi = xx * stride - pad + j * dil;
                if (yy < 0 || yy >= h || xi < 0 || xi >= wd) continue;
                const int64_t cc = g * cg + ic;
                s += x[static_cast<size_t>(((in * c + cc) * h + yy) * wd + xi)] *
                     w[static_cast<size_t>(((oc * cg + ic) * kh + i) * kw + j)];
              }
          out.push_back(s);
        }
  (void)c;
  return out;
}

TEST(NnConv2d, ForwardMatchesReference) {
  struct Case {
    int64_t in, out, k, stride, pad, dil, groups;
    bool bias;
  };
  for (const Case& c : {Case{3, 4, 3, 1, 0, 1, 1, true}, Case{4, 6, 3, 2, 1, 1, 2, true},
                        Case{2, 2, 2, 1, 2, 2, 1, false}, Case{4, 4, 3, 1, 1, 1, 4, true}}) {
    nn::Conv2d conv(nn::Conv2dOptions(c.in, c.out, c.k)
                        .stride(c.stride)
                        .padding(c.pad)
                        .dilation(c.dil)
                        .groups(c.groups)
                        .bias(c.bias));
    conv->to(DType::kF64);
    EXPECT_EQ(conv->weight.shape(), (Dims{c.out, c.in / c.groups, c.k, c.k}));
    Tensor x = random64({2, c.in, 7, 6}, 3);
    Dims shape;
    std::vector<double> ref = conv_ref(x, conv->weight, conv->bias, c.stride, c.pad, c.dil, c.groups, shape);
    Tensor y = conv->forward(x);
    EXPECT_EQ(y.shape(), shape);
    expect_values_near(y, ref, 1e-12, conv->to_string());
  }
  // Unbatched [C,H,W] input.
  nn::Conv2d conv(nn::Conv2dOptions(2, 3, {2, 3}));
  EXPECT_EQ(conv->weight.shape(), (Dims{3, 2, 2, 3}));
  EXPECT_EQ(conv->forward(zeros({2, 5, 5})).shape(), (Dims{3, 4, 3}));
  expect_error(
      [&] {
        conv->forward(zeros({1, 3, 5, 5}));
      },
      {"Conv2d: input [1,3,5,5] has 3 channels (dim 1), expected in_channels=2"});
  expect_error([&] { conv->forward(zeros({1, 2, 1, 5})); }, {"is smaller than the (dilated) kernel size 2"});
  expect_error([&] { conv->forward(zeros({2, 5})); }, {"Conv2d: input [2,5] has rank 2, expected 4"});
  expect_error([] { nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)); },
               {"must both be divisible by groups=2"});
  expect_error([] { nn::Conv2d(nn::Conv2dOptions(3, 4, {3, 3, 3})); }, {"expected 2 values"});
}

// PyTorch's pooling, one [H,W] plane; avg divides by the window clipped to the padded input
// (count_include_pad) or to the input.
std::vector<double> pool_ref(const std::vector<double>& x, int64_t h, int64_t w, int64_t k, int64_t s,
                             int64_t p, bool ceil_mode, bool is_max, bool count_include_pad, int64_t& oh,
                             int64_t& ow) {
  auto out_size = [&](int64_t in) {
    const int64_t span = in + 2 * p - (k - 1) - 1;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) --o;
    return o;
  };
  oh = out_size(h);
  ow = out_size(w);
  std::vector<double> out;
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      const int64_t hs = i * s - p, ws = j * s - p;
      const int64_t he = std::min(hs + k, h + p), we = std::min(ws + k, w + p);
      const int64_t pool_size = (he - hs) * (we - ws);
      double best = -INFINITY, total = 0;
      int64_t count = 0;
      for (int64_t a = std::max<int64_t>(hs, 0); a < std::min(he, h); ++a)
        for (int64_t b = std::max<int64_t>(ws, 0); b < std::min(we, w); ++b) {
          const double v = x[static_cast<size_t>(a * w + b)];
          best = std::max(best, v);
          total += v;
          ++count;
        }
      out.push_back(is_max ? best : total / static_cast<double>(count_include_pad ? pool_size : count));
    }
  return out;
}

TEST(NnPool, MaxAndAvgMatchPyTorchIncludingCeilMode) {
  struct Case {
    int64_t h, w, k, s, p;
    bool ceil_mode;
  };
  const Case cases[] = {{6, 6, 2, 2, 0, false}, {5, 7, 3, 2, 1, false}, {5, 7, 3, 2, 1, true},
                        {6, 5, 2, 2, 1, true},  {7, 7, 3, 3, 0, true},  {4, 4, 3, 1, 1, false}};
  for (const Case& c : cases) {
    Tensor x = random64({1, 1, c.h, c.w}, static_cast<uint64_t>(c.h * 10 + c.w), -2, 2);
    const std::vector<double> xv = values(x);
    int64_t oh, ow;
    const std::string what =
        fmt::format("h{} w{} k{} s{} p{} ceil_mode={}", c.h, c.w, c.k, c.s, c.p, c.ceil_mode);
    nn::MaxPool2d maxpool(nn::MaxPool2dOptions(c.k).stride(c.s).padding(c.p).ceil_mode(c.ceil_mode));
    std::vector<double> ref = pool_ref(xv, c.h, c.w, c.k, c.s, c.p, c.ceil_mode, true, false, oh, ow);
    Tensor y = maxpool->forward(x);
    EXPECT_EQ(y.shape(), (Dims{1, 1, oh, ow})) << what;
    expect_values_near(y, ref, 1e-12, "max " + what);
    for (bool include : {true, false}) {
      nn::AvgPool2d avg(nn::AvgPool2dOptions(c.k)
                            .stride(c.s)
                            .padding(c.p)
                            .ceil_mode(c.ceil_mode)
                            .count_include_pad(include));
      ref = pool_ref(xv, c.h, c.w, c.k, c.s, c.p, c.ceil_mode, false, include, oh, ow);
      y = avg->forward(x);
      EXPECT_EQ(y.shape(), (Dims{1, 1, oh, ow})) << what;
      expect_values_near(y, ref, 1e-12, fmt::format("avg count_include_pad={} {}", include, what));
    }
  }
  expect_error([] { nn::MaxPool2d(nn::MaxPool2dOptions(2).padding(2)); },
               {"padding [2,2] should be at most half of kernel_size [2,2]"});
  expect_error(
      [] {
        nn::MaxPool2d(3)->forward(zeros({1, 1, 2, 2}));
      },
      {"MaxPool2d: input [1,1,2,2] is too small for kernel 3"});
}

TEST(NnPool, AdaptiveAvgPool) {
  Tensor x = random64({2, 3, 4, 6}, 4);
  const std::vector<double> xv = values(x);
  // 1x1: the mean of each plane.
  Tensor g = nn::AdaptiveAvgPool2d(1)->forward(x);
  EXPECT_EQ(g.shape(), (Dims{2, 3, 1, 1}));
  std::vector<double> ref;
  for (size_t plane = 0; plane < 6; ++plane) {
    double s = 0;
    for (size_t i = 0; i < 24; ++i) s += xv[plane * 24 + i];
    ref.push_back(s / 24);
  }
  expect_values_near(g, ref, 1e-12);
  // 2x3 on 4x6: 2x2 blocks.
  Tensor a = nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({2, 3}))->forward(x);
  EXPECT_EQ(a.shape(), (Dims{2, 3, 2, 3}));
  ref.clear();
  for (size_t plane = 0; plane < 6; ++plane)
    for (size_t i = 0; i < 2; ++i)
      for (size_t j = 0; j < 3; ++j) {
        double s = 0;
        for (size_t di = 0; di < 2; ++di)
          for (size_t dj = 0; dj < 2; ++dj) s += xv[plane * 24 + (2 * i + di) * 6 + 2 * j + dj];
        ref.push_back(s / 4);
      }
  expect_values_near(a, ref, 1e-12);
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1)->forward(zeros({3, 5, 5})).shape(), (Dims{3, 1, 1}));
  expect_error(
      [] {
        nn::AdaptiveAvgPool2d(2)->forward(zeros({1, 1, 5, 5}));
      },
      {"AdaptiveAvgPool2d: input [1,1,5,5] has spatial size 5x5, which is not a multiple of output_size "
       "2x2"});
}

TEST(NnActivation, ValuesMatchFormulas) {
  Tensor x = t64({2, 3}, {-2.0, -0.5, 0.0, 0.3, 1.0, 4.0});
  const std::vector<double> xv = values(x);
  auto map = [&](auto f) {
    std::vector<double> out;
    for (double v : xv) out.push_back(f(v));
    return out;
  };
  expect_values_near(nn::ReLU()(x), map([](double v) { return std::max(v, 0.0); }), 1e-15);
  // ONNX's LeakyRelu holds the slope as a float attribute: 0.2 becomes 0.2f.
  expect_values_near(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))(x),
                     map([](double v) { return v > 0 ? v : 0.2 * v; }), 1e-7);
  expect_values_near(nn::LeakyReLU()(x), map([](double v) { return v > 0 ? v : 0.01 * v; }), 1e-7);
  expect_values_near(nn::Sigmoid()(x), map([](double v) { return 1 / (1 + std::exp(-v)); }), 1e-14);
  expect_values_near(nn::Tanh()(x), map([](double v) { return std::tanh(v); }), 1e-14);
  expect_values_near(nn::GELU()(x),
                     map([](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }), 1e-14);
  expect_values_near(nn::GELU(nn::GELUOptions().approximate("tanh"))(x), map([](double v) {
                       return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
                     }),
                     1e-14);
  expect_error([] { nn::GELU(nn::GELUOptions().approximate("fast")); }, {"approximate is 'fast'"});
  // Softmax over dim 1 (rows) and dim 0 (columns).
  std::vector<double> rows(6), cols(6);
  for (size_t r = 0; r < 2; ++r) {
    double s = 0;
    for (size_t c = 0; c < 3; ++c) s += std::exp(xv[r * 3 + c]);
    for (size_t c = 0; c < 3; ++c) rows[r * 3 + c] = std::exp(xv[r * 3 + c]) / s;
  }
  for (size_t c = 0; c < 3; ++c) {
    const double s = std::exp(xv[c]) + std::exp(xv[3 + c]);
    cols[c] = std::exp(xv[c]) / s;
    cols[3 + c] = std::exp(xv[3 + c]) / s;
  }
  expect_values_near(nn::Softmax(1)(x), rows, 1e-14);
  expect_values_near(nn::Softmax(-1)(x), rows, 1e-14);
  expect_values_near(nn::Softmax(0)(x), cols, 1e-14);
  std::vector<double> log_rows;
  for (double v : rows) log_rows.push_back(std::log(v));
  expect_values_near(nn::LogSoftmax(1)(x), log_rows, 1e-13);
  expect_error([&] { nn::Softmax(2)(x); }, {"Softmax: dim 2 is out of range for input [2,3]"});
  // Flatten keeps the batch dim by default.
  EXPECT_EQ(nn::Flatten()(zeros({2, 3, 4, 5})).shape(), (Dims{2, 60}));
  EXPECT_EQ(nn::Flatten(0, 1)(zeros({2, 3, 4})).shape(), (Dims{6, 4}));
  EXPECT_EQ(nn::Identity()(x).storage(), x.storage());
}

TEST(NnDropout, TrainMasksAndScalesEvalIsIdentity) {
  const double p = 0.3;
  nn::Dropout drop(nn::DropoutOptions(p).seed(42));
  Tensor x = random64({100, 100}, 5, 0.5, 1.5).set_requires_grad();
  Tensor y = drop->forward(x);
  const std::vector<double> xv = values(x), yv = values(y);
  size_t dropped = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++dropped;
    } else {
      EXPECT_NEAR(yv[i], xv[i] / (1 - p), 1e-12);
    }
  }
  // 10000 Bernoulli(0.3): standard deviation ~0.0046.
  EXPECT_NEAR(static_cast<double>(dropped) / 1e4, p, 0.02);
  // Gradient: the mask itself.
  sum(y).backward();
  const std::vector<double> g = values(x.grad());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], yv[i] == 0.0 ? 0.0 : 1 / (1 - p));
  // The same seed gives the same mask; the next call a different one.
  nn::Dropout again(nn::DropoutOptions(p).seed(42));
  EXPECT_EQ(values(again->forward(x)), yv);
  EXPECT_NE(values(again->forward(x)), yv);
  // A caller's generator.
  Generator gen(7), gen2(7);
  nn::Dropout a(nn::DropoutOptions(0.5).generator(&gen)), b(nn::DropoutOptions(0.5).generator(&gen2));
  EXPECT_EQ(values(a->forward(x)), values(b->forward(x)));
  // Eval: identity.
  drop->eval();
  EXPECT_EQ(values(drop->forward(x)), xv);
  nn::Dropout all(1.0);
  EXPECT_EQ(values(all->forward(x)), std::vector<double>(xv.size(), 0.0));
  EXPECT_EQ(values(nn::Dropout(0.0)->forward(x)), xv);
  expect_error([] { nn::Dropout(1.5); }, {"Dropout: probability p=1.5 is outside [0, 1]"});
  // f32 on the way through.
  EXPECT_EQ(nn::Dropout(0.5)->forward(ones({3, 3})).dtype(), DType::kF32);
}

TEST(NnEmbedding, LooksUpRows) {
  nn::Embedding emb(5, 3);
  emb->to(DType::kF64);
  EXPECT_EQ(emb->weight.shape(), (Dims{5, 3}));
  Tensor idx = Tensor::from_vector<int64_t>({2, 2}, {4, 0, 2, 4});
  Tensor y = emb->forward(idx);
  EXPECT_EQ(y.shape(), (Dims{2, 2, 3}));
  const std::vector<double> w = values(emb->weight);
  std::vector<double> ref;
  for (int64_t i : {4, 0, 2, 4})
    for (size_t d = 0; d < 3; ++d) ref.push_back(w[static_cast<size_t>(i) * 3 + d]);
  expect_values_near(y, ref, 0);
  expect_error([&] { emb->forward(Tensor::from_vector<int64_t>({1}, {5})); },
               {"Embedding: index 5 is out of range for 5 embeddings"});
  expect_error([&] { emb->forward(Tensor::from_vector<int64_t>({1}, {-1})); }, {"index -1 is out of range"});
  expect_error([&] { emb->forward(zeros({2})); }, {"Embedding: indices have dtype f32"});
}

// ---- Gradients of the parameters (and inputs), f64, central differences ----

TEST(NnLayerGradients, LinearAndConv) {
  KILN_SKIP_WITHOUT_GRADIENTS("Gemm", "Conv", "MatMul", "Add", "Mul", "ReduceSum");
  nn::Linear fc(3, 2);
  fc->to(DType::kF64);
  Tensor x = random64({4, 3}, 1).set_requires_grad();
  Tensor w = random64({4, 2}, 2);
  expect_gradients_match([&] { return sum(fc->forward(x) * w); }, {x, fc->weight, fc->bias}, "linear");
  Tensor x3 = random64({2, 2, 3}, 3).set_requires_grad();
  Tensor w3 = random64({2, 2, 2}, 4);
  expect_gradients_match([&] { return sum(fc->forward(x3) * w3); }, {x3, fc->weight, fc->bias},
                         "linear rank 3");
  nn::Conv2d conv(nn::Conv2dOptions(4, 2, 3).stride(2).padding(1).groups(2));
  conv->to(DType::kF64);
  Tensor xc = random64({2, 4, 5, 5}, 5).set_requires_grad();
  Tensor wc = random64({2, 2, 3, 3}, 6);
  expect_gradients_match([&] { return sum(conv->forward(xc) * wc); }, {xc, conv->weight, conv->bias}, "conv");
}

TEST(NnLayerGradients, PoolingAndEmbedding) {
  KILN_SKIP_WITHOUT_GRADIENTS("MaxPool", "AveragePool", "GlobalAveragePool", "Gather", "Slice");
  Tensor x = random64({1, 2, 5, 5}, 7).set_requires_grad();
  Tensor w = random64({1, 2, 3, 3}, 8);
  expect_gradients_match(
      [&] { return sum(nn::MaxPool2d(nn::MaxPool2dOptions(2).ceil_mode(true))->forward(x) * w); }, {x},
      "maxpool ceil");
  expect_gradients_match(
      [&] {
        return sum(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).padding(1).ceil_mode(true))->forward(x) *
                   w);
      },
      {x}, "avgpool ceil include_pad");
  Tensor wg = random64({1, 2, 1, 1}, 9);
  expect_gradients_match([&] { return sum(nn::AdaptiveAvgPool2d(1)->forward(x) * wg); }, {x}, "adaptive 1x1");
  nn::Embedding emb(4, 2);
  emb->to(DType::kF64);
  Tensor idx = Tensor::from_vector<int64_t>({3}, {1, 3, 1});
  Tensor we = random64({3, 2}, 10);
  expect_gradients_match([&] { return sum(emb->forward(idx) * we); }, {emb->weight}, "embedding");
}

TEST(NnLayerGradients, Activations) {
  KILN_SKIP_WITHOUT_GRADIENTS("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Softmax", "LogSoftmax");
  Tensor x = t64({2, 3}, {-2.0, -0.5, 0.1, 0.3, 1.0, 4.0}).set_requires_grad();
  Tensor w = random64({2, 3}, 11, 0.5, 1.5);
  for (auto module : std::vector<std::shared_ptr<nn::Module>>{
           nn::ReLU().ptr(), nn::LeakyReLU().ptr(), nn::Sigmoid().ptr(), nn::Tanh().ptr(), nn::GELU().ptr(),
           nn::GELU(nn::GELUOptions().approximate("tanh")).ptr(), nn::Softmax(1).ptr(),
           nn::LogSoftmax(0).ptr()})
    expect_gradients_match([&] { return sum(module->forward(x) * w); }, {x}, module->to_string());
}

}  // namespace
}  // namespace kiln

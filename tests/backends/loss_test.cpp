// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss cases (weights, ignore_index, every
// reduction, k-dim targets, i32 targets, f64), and a target out of range failing at run time.

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "kiln/runtime/error.h"
#include "kiln/runtime/executor.h"
#include "kiln/runtime/graph.h"
#include "op_case.h"
#include "test_backends.h"

namespace kiln::test {
namespace {

// Naive log-softmax over dim 1 of [N, C, d...].
Ref log_softmax_dim1(const Ref& x) {
  Ref y(x.dtype, x.shape);
  for_each_index(x.shape, [&](const Dims& i) {
    Dims j = i;
    double max = -INFINITY;
    for (j[1] = 0; j[1] < x.shape[1]; ++j[1]) max = std::max(max, x.at(j));
    double sum = 0.0;
    for (j[1] = 0; j[1] < x.shape[1]; ++j[1]) sum += std::exp(x.at(j) - max);
    y.at(i) = x.at(i) - max - std::log(sum);
  });
  return y;
}

// The ONNX NegativeLogLikelihoodLoss on log-probabilities lp [N, C, d...] and targets [N, d...].
Ref nll(const Ref& lp, const Ref& target, const Ref* weight, const std::string& reduction,
        std::optional<int64_t> ignore_index) {
  Ref loss(lp.dtype, target.shape);
  double sum = 0.0, weight_sum = 0.0;
  for_each_index(target.shape, [&](const Dims& i) {
    const auto t = static_cast<int64_t>(target.at(i));
    if (ignore_index && t == *ignore_index) return;  // loss 0, weight 0
    Dims xi{i[0], t};
    xi.insert(xi.end(), i.begin() + 1, i.end());
    const double w = weight ? weight->v[static_cast<size_t>(t)] : 1.0;
    loss.at(i) = -lp.at(xi) * w;
    sum += loss.at(i);
    weight_sum += w;
  });
  if (reduction == "none") return loss;
  return Ref(lp.dtype, {}, {reduction == "sum" ? sum : sum / weight_sum});
}

struct LossSpec {
  std::string name;
  bool softmax = false;
  Tensor x, target;
  std::optional<Tensor> weight;
  const char* reduction = nullptr;  // nullptr: default ("mean")
  std::optional<int64_t> ignore_index;
  bool log_prob = false;  // SoftmaxCrossEntropyLoss's second output

  LossSpec(std::string case_name, bool use_softmax, Tensor scores, Tensor labels)
      : name(std::move(case_name)), softmax(use_softmax), x(std::move(scores)), target(std::move(labels)) {}
  LossSpec& with_weight(Tensor w) { weight = std::move(w); return *this; }
  LossSpec& reduce(const char* r) { reduction = r; return *this; }
  LossSpec& ignore(int64_t i) { ignore_index = i; return *this; }
  LossSpec& with_log_prob() { log_prob = true; return *this; }
};

OpCase loss_case(const LossSpec& s) {
  OpCase oc(s.name, s.softmax ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss");
  oc.at_opset(13).input(s.x).input(s.target);
  if (s.weight) oc.constant(*s.weight);
  if (s.reduction) oc.attr("reduction", s.reduction);
  if (s.ignore_index) oc.attr("ignore_index", *s.ignore_index);
  if (s.log_prob) oc.outputs(2);
  const std::string reduction = s.reduction ? s.reduction : "mean";
  return oc.expect([s, reduction](const Refs& in) {
    const Ref lp = s.softmax ? log_softmax_dim1(in[0]) : in[0];
    const Ref* w = in.size() > 2 && in[2].present ? &in[2] : nullptr;
    Refs out{nll(lp, in[1], w, reduction, s.ignore_index)};
    if (s.log_prob) out.push_back(lp);
    return out;
  });
}

// Targets in [0, classes) with every `every`-th one replaced by `ignored`.
Tensor targets(Gen& gen, const Dims& shape, int64_t classes, std::optional<int64_t> ignored = std::nullopt,
               int every = 3) {
  Tensor t = gen.integers(shape, 0, classes - 1);
  if (ignored) {
    auto* p = t.data<int64_t>();
    for (int64_t i = 0; i < t.numel(); i += every) p[i] = *ignored;
  }
  return t;
}

Tensor to_f64(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(t.data<float>()[i]);
  return Tensor::from_vector<double>(t.shape(), v);
}

Tensor to_i32(const Tensor& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>(t.data<int64_t>()[i]);
  return Tensor::from_vector<int32_t>(t.shape(), v);
}

std::vector<OpCase> cases() {
  Gen gen(91);
  std::vector<OpCase> all;
  for (bool softmax : {false, true}) {
    const std::string p = softmax ? "Sce" : "Nll";
    // NLL takes log-probabilities; any reals exercise the arithmetic equally.
    all.push_back(loss_case(LossSpec(p + "NCMean", softmax, gen.uniform({4, 5}, -3.0, 3.0), targets(gen, {4}, 5))));
    all.push_back(loss_case(LossSpec(p + "NCSum", softmax, gen.uniform({3, 4}), targets(gen, {3}, 4)).reduce("sum")));
    all.push_back(loss_case(LossSpec(p + "NCNone", softmax, gen.uniform({3, 4}), targets(gen, {3}, 4)).reduce("none")));
    all.push_back(loss_case(LossSpec(p + "NCWeightMean", softmax, gen.uniform({5, 3}), targets(gen, {5}, 3))
                                .with_weight(gen.uniform({3}, 0.25, 2.0))));
    all.push_back(loss_case(LossSpec(p + "NCd1WeightSum", softmax, gen.uniform({2, 3, 4}), targets(gen, {2, 4}, 3))
                                .with_weight(gen.uniform({3}, 0.25, 2.0)).reduce("sum")));
    all.push_back(loss_case(LossSpec(p + "NCd1d2WeightNone", softmax, gen.uniform({2, 3, 2, 3}), targets(gen, {2, 2, 3}, 3))
                                .with_weight(gen.uniform({3}, 0.25, 2.0)).reduce("none")));
    all.push_back(loss_case(LossSpec(p + "NCd1d2d3IgnoreMean", softmax, gen.uniform({2, 4, 2, 2, 3}),
                                     targets(gen, {2, 2, 2, 3}, 4, int64_t{1})).reduce("mean").ignore(1)));
    all.push_back(loss_case(LossSpec(p + "NCd1WeightNegativeIgnoreMean", softmax, gen.uniform({3, 5, 4}),
                                     targets(gen, {3, 4}, 5, int64_t{-1}))
                                .with_weight(gen.uniform({5}, 0.25, 2.0)).ignore(-1)));
    all.push_back(loss_case(LossSpec(p + "NCd1WeightIgnoreSum", softmax, gen.uniform({3, 5, 4}),
                                     targets(gen, {3, 4}, 5, int64_t{2}, 2))
                                .with_weight(gen.uniform({5}, 0.25, 2.0)).reduce("sum").ignore(2)));
    all.push_back(loss_case(LossSpec(p + "NCd1IgnoreNone", softmax, gen.uniform({3, 5, 2}),
                                     targets(gen, {3, 2}, 5, int64_t{7}, 2)).reduce("none").ignore(7)));
    all.push_back(loss_case(LossSpec(p + "I32Targets", softmax, gen.uniform({3, 4, 2}), to_i32(targets(gen, {3, 2}, 4)))
                                .reduce("sum")));
    all.push_back(loss_case(LossSpec(p + "F64WeightMean", softmax, to_f64(gen.uniform({4, 3, 2})), targets(gen, {4, 2}, 3))
                                .with_weight(to_f64(gen.uniform({3}, 0.25, 2.0)))));
  }
  all.push_back(loss_case(LossSpec("SceLogProb", true, gen.uniform({3, 6}, -4.0, 4.0), targets(gen, {3}, 6)).with_log_prob()));
  all.push_back(loss_case(LossSpec("SceLogProbNCd1d2WeightIgnoreNone", true, gen.uniform({2, 4, 3, 2}),
                                   targets(gen, {2, 3, 2}, 4, int64_t{0}))
                              .with_weight(gen.uniform({4}, 0.25, 2.0)).reduce("none").ignore(0).with_log_prob()));
  all.push_back(loss_case(LossSpec("SceLargeScores", true, gen.uniform({2, 5}, 80.0, 120.0), targets(gen, {2}, 5))
                              .with_log_prob()));
  return all;
}

// --- A target outside [0, C) that is not ignore_index fails at run time naming the node.

class LossBadTargetTest : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  void expect_error(const std::string& op, const Tensor& x, const Tensor& target, const Attributes& attrs) {
    Graph graph;
    graph.add_input("x", x.dtype(), Shape::of(x.shape()));
    graph.add_input("t", target.dtype(), Shape::of(target.shape()));
    graph.add_node(NodeSpec{op, {"x", "t"}, {"y"}, attrs, "bad_" + op});
    graph.add_output("y");
    try {
      Executor ex(graph, ExecutorOptions{GetParam(), /*strict=*/false, 0}, test_registry());
      ex.run({x, target});
      ADD_FAILURE() << op << " ran without an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad_" + op), std::string::npos) << "message: " << e.what();
    }
  }
};

TEST_P(LossBadTargetTest, NllTargetTooLarge) {
  Gen gen(5);
  expect_error("NegativeLogLikelihoodLoss", gen.uniform({3, 4}), i64({3}, {0, 4, 1}), {});
}

TEST_P(LossBadTargetTest, NllNegativeTargetNotIgnored) {
  Gen gen(6);
  Attributes attrs;
  attrs.set("ignore_index", int64_t{-100});
  expect_error("NegativeLogLikelihoodLoss", gen.uniform({2, 3, 2}), i64({2, 2}, {0, -100, -1, 2}), attrs);
}

TEST_P(LossBadTargetTest, SceTargetTooLargeI32) {
  Gen gen(7);
  Attributes attrs;
  attrs.set("reduction", std::string("none"));
  expect_error("SoftmaxCrossEntropyLoss", gen.uniform({2, 3}), i32({2}, {3, 0}), attrs);
}

std::string list_name(const ::testing::TestParamInfo<std::vector<std::string>>& info) {
  std::string name;
  for (const std::string& b : info.param) name += (name.empty() ? "" : "_") + b;
  return name;
}

INSTANTIATE_TEST_SUITE_P(Backends, LossBadTargetTest, ::testing::ValuesIn(backend_lists()), list_name);

}  // namespace

KILN_OP_CASES(Loss, cases());

}  // namespace kiln::test

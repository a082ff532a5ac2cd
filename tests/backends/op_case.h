#pragma once
// The op-case harness. Each case is declared once (op, opset, attributes, inputs, and a naive
// reference) and runs as a one-node graph through the executor on every backend list of
// test_backends.h, e.g. `Conv/OpCaseTest.Run/Conv2dGroups_cpu` and `..._test_cpu`.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/runtime/attribute.h"
#include "kiln/runtime/tensor.h"
#include "reference.h"

namespace kiln::test {

using RefFn = std::function<Refs(const Refs& inputs)>;

struct CaseInput {
  Tensor value;              // undefined for an omitted optional input
  bool initializer = false;  // a constant known at plan time, else a graph input
};

/// One op case. Built with chained setters:
///   OpCase("Relu6d", "Relu").input(gen.uniform({2,1,3,1,2,2})).expect(...)
struct OpCase {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for ONNX's ops, "kiln" for kiln's own (at opset 1)
  int opset = 17;
  Attributes attrs;
  std::vector<CaseInput> inputs;
  size_t num_outputs = 1;
  RefFn reference;
  double rtol = 1e-4, atol = 1e-5;  // f64 outputs: at most 1e-10 and 1e-12

  OpCase(std::string case_name, std::string op) : name(std::move(case_name)), op_type(std::move(op)) {}
  OpCase& at_opset(int version) { opset = version; return *this; }
  OpCase& in_domain(std::string d) { domain = std::move(d); return *this; }
  OpCase& attr(const std::string& key, int value) { attrs.set(key, int64_t{value}); return *this; }
  OpCase& attr(const std::string& key, int64_t value) { attrs.set(key, value); return *this; }
  OpCase& attr(const std::string& key, float value) { attrs.set(key, value); return *this; }
  OpCase& attr(const std::string& key, const char* value) { attrs.set(key, std::string(value)); return *this; }
  OpCase& attr(const std::string& key, std::vector<int64_t> value) { attrs.set(key, std::move(value)); return *this; }
  OpCase& attr(const std::string& key, Tensor value) { attrs.set(key, std::move(value)); return *this; }
  /// A graph input, fed at run time.
  OpCase& input(Tensor value) { inputs.push_back({std::move(value), false}); return *this; }
  /// An initializer: a constant the executor sees at plan time.
  OpCase& constant(Tensor value) { inputs.push_back({std::move(value), true}); return *this; }
  /// An omitted optional input ("" in ONNX).
  OpCase& absent() { inputs.push_back({Tensor(), false}); return *this; }
  OpCase& outputs(size_t n) { num_outputs = n; return *this; }
  OpCase& expect(RefFn fn) { reference = std::move(fn); return *this; }
  OpCase& tolerance(double relative, double absolute) { rtol = relative; atol = absolute; return *this; }
};

// --- Inputs.
Tensor f32(const Dims& shape, const std::vector<float>& values);
Tensor f64(const Dims& shape, const std::vector<double>& values);
Tensor i64(const Dims& shape, const std::vector<int64_t>& values);
Tensor i32(const Dims& shape, const std::vector<int32_t>& values);
Tensor boolean(const Dims& shape, const std::vector<int>& values);  // 0 = false
Tensor f32_scalar(float value);
Tensor i64_scalar(int64_t value);

/// Deterministic pseudo-random inputs (its own generator, so values never depend on the
/// platform's <random> distributions).
class Gen {
 public:
  explicit Gen(uint64_t seed) : state_(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  /// Uniform f32 in [lo, hi), quantized to multiples of 1/1024 so values are exact in f32.
  Tensor uniform(const Dims& shape, double lo = -1.0, double hi = 1.0);
  /// Uniform i64 in [lo, hi].
  Tensor integers(const Dims& shape, int64_t lo, int64_t hi);

 private:
  uint64_t next();
  uint64_t state_;
};

// --- Parameterization over backend lists.
struct OpCaseParam {
  const OpCase* op_case;
  std::vector<std::string> backends;
};

/// The f64 twin of a case: its f32 inputs as f64 (the same values), its reference's f32
/// outputs tagged f64, named "<case>F64". Its outputs are f64, so held to rtol 1e-10.
OpCase f64_twin(const OpCase& c);

/// Every case of a family and the f64 twin of every case with an f32 input, crossed with
/// every backend list. The cases live for the whole run.
std::vector<OpCaseParam> with_backends(std::vector<OpCase> cases);
/// GoogleTest prints parameters with this: "Conv2dGroups (Conv, opset 17) on test cpu".
void PrintTo(const OpCaseParam& param, std::ostream* os);
/// "<case>_<backend>_<backend>", e.g. "Conv2dGroups_test_cpu".
std::string param_name(const ::testing::TestParamInfo<OpCaseParam>& info);

/// True when the test backend claims this case (f32 Add/Sub/Mul/Div/Relu/Neg/Abs/Identity).
bool test_backend_claims(const OpCase& c);

class OpCaseTest : public ::testing::TestWithParam<OpCaseParam> {};

}  // namespace kiln::test

/// Instantiates one family's cases on every backend list: ctest names read
/// `<Family>/OpCaseTest.Run/<case>_<backends>`.
#define KILN_OP_CASES(family, cases)                                                                   \
  INSTANTIATE_TEST_SUITE_P(family, OpCaseTest, ::testing::ValuesIn(::kiln::test::with_backends(cases)), \
                           ::kiln::test::param_name)

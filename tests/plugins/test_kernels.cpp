#include "test_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>

namespace kiln::test_backend {
namespace {

struct OpInfo {
  const char* name;
  OpKind kind;
  size_t arity;
};

constexpr OpInfo kOps[] = {
    {"Add", OpKind::kAdd, 2}, {"Sub", OpKind::kSub, 2},           {"Mul", OpKind::kMul, 2},
    {"Div", OpKind::kDiv, 2}, {"Relu", OpKind::kRelu, 1},         {"Neg", OpKind::kNeg, 1},
    {"Abs", OpKind::kAbs, 1}, {"Identity", OpKind::kIdentity, 1},
};

// Below this many elements, threads cost more than they save.
constexpr int64_t kParallelMin = 1 << 15;

const OpInfo* find_op(const char* name) {
  for (const OpInfo& op : kOps)
    if (name && std::strcmp(op.name, name) == 0) return &op;
  return nullptr;
}

std::string describe_node(const kiln_node& node) {
  return std::string("node '") + (node.name ? node.name : "?") + "' (" + (node.op_type ? node.op_type : "?") +
         ")";
}

Verdict reject(int32_t code, std::string reason) { return {code, std::move(reason)}; }

// A value's shape, or a reason it is malformed.
std::string check_value(const kiln_value& v, const std::string& what) {
  if (v.dtype != KILN_DTYPE_F32)
    return what + " has dtype " + dtype_name(v.dtype) + "; the test backend runs f32 only";
  if (v.rank < 0 || v.rank > KILN_MAX_RANK)
    return what + " has rank " + std::to_string(v.rank) + ", expected 0.." + std::to_string(KILN_MAX_RANK);
  if (v.rank > 0 && !v.shape) return what + " has rank " + std::to_string(v.rank) + " but no shape";
  for (int32_t d = 0; d < v.rank; ++d)
    if (v.shape[d] < 0)
      return what + " has negative dim " + std::to_string(v.shape[d]) + " at axis " + std::to_string(d);
  return "";
}

std::vector<int64_t> dims_of(const kiln_value& v) { return std::vector<int64_t>(v.shape, v.shape + v.rank); }

// numpy broadcasting of two shapes; false when some pair of dims is incompatible.
bool broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b, std::vector<int64_t>* out) {
  size_t rank = std::max(a.size(), b.size());
  out->assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    (*out)[i] = da == 1 ? db : da;
  }
  return true;
}

int64_t checked_numel(const std::vector<int64_t>& dims, const std::string& what) {
  int64_t n = 1;
  // Bytes must fit too: at most max/4 elements of f32.
  const int64_t limit = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(float));
  for (int64_t d : dims) {
    if (d != 0 && n > limit / d) throw Failure(KILN_ERR_INVALID_ARGUMENT, what + ": element count overflows");
    n *= d;
  }
  return n;
}

float apply(OpKind kind, float a, float b) {
  switch (kind) {
    case OpKind::kAdd:
      return a + b;
    case OpKind::kSub:
      return a - b;
    case OpKind::kMul:
      return a * b;
    case OpKind::kDiv:
      return a / b;
    case OpKind::kRelu:
      return a > 0.0f ? a : (std::isnan(a) ? a : 0.0f);
    case OpKind::kNeg:
      return -a;
    case OpKind::kAbs:
      return std::fabs(a);
    case OpKind::kIdentity:
      return a;
  }
  return a;
}

// The inner loops, specialized per op so the switch is outside them.
template <OpKind K>
void unary_range(const float* a, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = apply(K, a[i], 0.0f);
}

template <OpKind K>
void binary_range(const float* a, const float* b, float* out, int64_t begin, int64_t end,
                  const std::vector<int64_t>& shape, const int64_t* sa, const int64_t* sb) {
  if (begin >= end) return;  // also keeps size-0 dims out of the modulo below
  const int rank = static_cast<int>(shape.size());
  int64_t index[KILN_MAX_RANK] = {};
  int64_t off_a = 0, off_b = 0, rest = begin;
  for (int d = rank - 1; d >= 0; --d) {
    index[d] = rest % shape[d];
    rest /= shape[d];
    off_a += index[d] * sa[d];
    off_b += index[d] * sb[d];
  }
  for (int64_t i = begin; i < end; ++i) {
    out[i] = apply(K, a[off_a], b[off_b]);
    for (int d = rank - 1; d >= 0; --d) {  // odometer step
      ++index[d];
      off_a += sa[d];
      off_b += sb[d];
      if (index[d] < shape[d]) break;
      off_a -= sa[d] * shape[d];
      off_b -= sb[d] * shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace

std::string dtype_name(int32_t dtype) {
  static const char* const kNames[] = {"undefined", "f32", "f64", "f16", "bf16",
                                       "i64",       "i32", "i8",  "u8",  "bool"};
  if (dtype >= 0 && dtype <= KILN_DTYPE_BOOL) return kNames[dtype];
  return "dtype " + std::to_string(dtype);
}

std::string dims_string(const int64_t* dims, int32_t rank) {
  std::string s = "[";
  for (int32_t i = 0; i < rank; ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

Verdict check_node(const kiln_node& node) {
  if (node.domain && node.domain[0] != '\0' && std::strcmp(node.domain, "ai.onnx") != 0)
    return reject(KILN_ERR_UNSUPPORTED, std::string("domain '") + node.domain + "' not supported");
  const OpInfo* op = find_op(node.op_type);
  if (!op)
    return reject(KILN_ERR_UNSUPPORTED, std::string("no test-backend kernel for ") +
                                            (node.op_type ? node.op_type : "(null op)") +
                                            " (it runs Add, Sub, Mul, Div, Relu, Neg, Abs, Identity)");
  if (node.n_attrs > 0)
    return reject(
        KILN_ERR_UNSUPPORTED,
        std::string("attribute '") + (node.attrs[0].name ? node.attrs[0].name : "?") + "' not supported");
  if (node.n_inputs != op->arity || (node.n_inputs > 0 && !node.inputs))
    return reject(KILN_ERR_INVALID_ARGUMENT,
                  "expects " + std::to_string(op->arity) + " inputs, got " + std::to_string(node.n_inputs));
  if (node.n_outputs != 1 || !node.outputs)
    return reject(KILN_ERR_INVALID_ARGUMENT, "expects 1 output, got " + std::to_string(node.n_outputs));
  for (size_t i = 0; i < node.n_inputs; ++i) {
    std::string why = check_value(node.inputs[i], "input " + std::to_string(i));
    if (!why.empty())
      return reject(node.inputs[i].dtype != KILN_DTYPE_F32 ? KILN_ERR_UNSUPPORTED : KILN_ERR_INVALID_ARGUMENT,
                    why);
  }
  std::string why = check_value(node.outputs[0], "output 0");
  if (!why.empty())
    return reject(node.outputs[0].dtype != KILN_DTYPE_F32 ? KILN_ERR_UNSUPPORTED : KILN_ERR_INVALID_ARGUMENT,
                  why);

  std::vector<int64_t> expected = dims_of(node.inputs[0]);
  if (op->arity == 2 && !broadcast(dims_of(node.inputs[0]), dims_of(node.inputs[1]), &expected))
    return reject(KILN_ERR_INVALID_ARGUMENT,
                  "input shapes " + dims_string(node.inputs[0].shape, node.inputs[0].rank) + " and " +
                      dims_string(node.inputs[1].shape, node.inputs[1].rank) + " do not broadcast");
  if (dims_of(node.outputs[0]) != expected)
    return reject(KILN_ERR_INVALID_ARGUMENT,
                  "output shape " + dims_string(node.outputs[0].shape, node.outputs[0].rank) + " should be " +
                      dims_string(expected.data(), static_cast<int32_t>(expected.size())));
  return {};
}

Kernel::Kernel(const kiln_node& node) : describe_(describe_node(node)) {
  Verdict verdict = check_node(node);
  if (verdict.code != KILN_OK) throw Failure(verdict.code, describe_ + ": " + verdict.reason);
  const OpInfo* op = find_op(node.op_type);
  kind_ = op->kind;
  arity_ = op->arity;
  output_shape_ = dims_of(node.outputs[0]);
  numel_ = checked_numel(output_shape_, describe_);
  const size_t rank = output_shape_.size();
  for (size_t i = 0; i < arity_; ++i) {
    std::vector<int64_t> in = dims_of(node.inputs[i]);
    checked_numel(in, describe_);
    // Strides of input i over the output's dims: 0 where it is broadcast or absent.
    std::vector<int64_t> strides(rank, 0);
    int64_t stride = 1;
    for (size_t k = in.size(); k-- > 0;) {
      size_t d = k + (rank - in.size());
      strides[d] = in[k] == 1 ? 0 : stride;
      stride *= in[k];
    }
    input_shapes_.push_back(std::move(in));
    broadcast_strides_.push_back(std::move(strides));
  }
}

size_t Kernel::input_bytes(size_t i) const {
  size_t n = 1;
  for (int64_t d : input_shapes_.at(i)) n *= static_cast<size_t>(d);
  return n * sizeof(float);
}

size_t Kernel::output_bytes() const { return static_cast<size_t>(numel_) * sizeof(float); }

void Kernel::check_tensor(const kiln_tensor& t, const std::vector<int64_t>& shape,
                          const std::string& what) const {
  if (t.dtype != KILN_DTYPE_F32)
    throw Failure(KILN_ERR_INVALID_ARGUMENT,
                  describe_ + ": " + what + " has dtype " + dtype_name(t.dtype) + ", prepared for f32");
  bool readable = t.rank >= 0 && t.rank <= KILN_MAX_RANK && (t.rank == 0 || t.shape);
  bool same = readable && t.rank == static_cast<int32_t>(shape.size()) &&
              (t.rank == 0 || std::equal(shape.begin(), shape.end(), t.shape));
  if (!same)
    throw Failure(KILN_ERR_INVALID_ARGUMENT,
                  describe_ + ": " + what + " has shape " + (readable ? dims_string(t.shape, t.rank) : "?") +
                      ", prepared for " + dims_string(shape.data(), static_cast<int32_t>(shape.size())));
}

void Kernel::check(const kiln_tensor* inputs, size_t n_inputs, const kiln_tensor* outputs,
                   size_t n_outputs) const {
  if (n_inputs != arity_ || (n_inputs && !inputs) || n_outputs != 1 || !outputs)
    throw Failure(KILN_ERR_INVALID_ARGUMENT, describe_ + ": run with " + std::to_string(n_inputs) +
                                                 " inputs and " + std::to_string(n_outputs) +
                                                 " outputs, expected " + std::to_string(arity_) + " and 1");
  for (size_t i = 0; i < arity_; ++i) check_tensor(inputs[i], input_shapes_[i], "input " + std::to_string(i));
  check_tensor(outputs[0], output_shape_, "output 0");
}

void Kernel::run(const kiln_tensor* inputs, kiln_tensor* outputs, int threads) const {
  if (numel_ == 0) return;

  const float* a = static_cast<const float*>(inputs[0].data);
  const float* b = arity_ == 2 ? static_cast<const float*>(inputs[1].data) : nullptr;
  float* out = static_cast<float*>(outputs[0].data);
  int64_t parts = std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, numel_ / kParallelMin));
  if (parts == 1) {
    compute(a, b, out, 0, numel_);
    return;
  }
  std::vector<std::thread> workers;
  int64_t chunk = (numel_ + parts - 1) / parts;
  int64_t begin = chunk;  // the calling thread takes [0, chunk)
  try {
    for (; begin < numel_; begin += chunk) {
      int64_t end = std::min(numel_, begin + chunk);
      workers.emplace_back([=, this] { compute(a, b, out, begin, end); });
    }
  } catch (const std::system_error&) {
    // Could not start a thread: do the rest here.
    compute(a, b, out, begin, numel_);
  }
  compute(a, b, out, 0, std::min(chunk, numel_));
  for (std::thread& w : workers) w.join();
}

void Kernel::compute(const float* a, const float* b, float* out, int64_t begin, int64_t end) const {
  const int64_t* sa = arity_ == 2 ? broadcast_strides_[0].data() : nullptr;
  const int64_t* sb = arity_ == 2 ? broadcast_strides_[1].data() : nullptr;
  switch (kind_) {
    case OpKind::kAdd:
      return binary_range<OpKind::kAdd>(a, b, out, begin, end, output_shape_, sa, sb);
    case OpKind::kSub:
      return binary_range<OpKind::kSub>(a, b, out, begin, end, output_shape_, sa, sb);
    case OpKind::kMul:
      return binary_range<OpKind::kMul>(a, b, out, begin, end, output_shape_, sa, sb);
    case OpKind::kDiv:
      return binary_range<OpKind::kDiv>(a, b, out, begin, end, output_shape_, sa, sb);
    case OpKind::kRelu:
      return unary_range<OpKind::kRelu>(a, out, begin, end);
    case OpKind::kNeg:
      return unary_range<OpKind::kNeg>(a, out, begin, end);
    case OpKind::kAbs:
      return unary_range<OpKind::kAbs>(a, out, begin, end);
    case OpKind::kIdentity:
      return unary_range<OpKind::kIdentity>(a, out, begin, end);
  }
}

}  // namespace kiln::test_backend

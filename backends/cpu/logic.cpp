// Cast, CastLike, Where, the comparisons Equal, Less, LessOrEqual, Greater, GreaterOrEqual,
// the logical And, Or, Xor, Not and BitShift, element-wise with numpy broadcasting
// (plain_broadcast.h) and ONNX's conversion rules (plain_convert.h).

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel.h"
#include "kernel_families.h"
#include "plain_broadcast.h"
#include "plain_convert.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

using plain::Bool;
using plain::Broadcast;
using plain::dims_str;
using plain::narrow;
using plain::visit_dtype;
using plain::widen;

// ---- Cast ----

class CastKernel : public Kernel {
 public:
  CastKernel(std::string prefix, int32_t from, int32_t to, int64_t count)
      : prefix_(std::move(prefix)), from_(from), to_(to), count_(count) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    if (from_ == to_) {
      plain::copy_bytes(out[0].data, in[0].data, count_ * static_cast<int64_t>(dtype_size(from_)));
      return;
    }
    visit_dtype(from_, [&]<class S>() {
      visit_dtype(to_, [&]<class D>() {
        const S* src = static_cast<const S*>(in[0].data);
        D* dst = static_cast<D*>(out[0].data);
        plain::parallel_range(count_, count_ * static_cast<int64_t>(sizeof(S) + sizeof(D)), [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) dst[i] = narrow<D>(widen(src[i]));
        });
      });
    });
  }

 private:
  std::string prefix_;
  int32_t from_, to_;
  int64_t count_;
};

std::string supports_cast(const NodeView& v) {
  std::string why = dtypes_in(plain::all_dtypes())(v);
  if (!why.empty()) return why;
  if (!v.has_input(0) || v.num_outputs() != 1) return "expects one input and one output";
  return "";
}

// The runtime turned the `to` attribute into the output dtype; the kernel converts into that.
std::unique_ptr<Kernel> prepare_cast(const NodeView& v) {
  plain::check_same_numel(v, 0, 0);
  return std::make_unique<CastKernel>(plain::node_prefix(v), v.input_dtype(0), v.output_dtype(0),
                                      numel(v.output_shape(0)));
}

// Inputs 0..n-1 must each broadcast to output 0.
void check_broadcast(const NodeView& v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!plain::broadcasts_to(v.input_shape(i), v.output_shape(0)))
      fail(v, "input " + std::to_string(i) + " shape " + dims_str(v.input_shape(i)) + " does not broadcast to output shape " +
                  dims_str(v.output_shape(0)));
}

// ---- Equal, Less, Greater ----

enum class Compare { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr, kXor };

class CompareKernel : public Kernel {
 public:
  CompareKernel(std::string prefix, Compare op, int32_t dtype, Broadcast<2> plan)
      : prefix_(std::move(prefix)), op_(op), dtype_(dtype), plan_(std::move(plan)) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    visit_dtype(dtype_, [&]<class T>() {
      switch (op_) {
        case Compare::kEqual: apply<T>(in, out[0], [](auto a, auto b) { return a == b; }); break;
        case Compare::kLess: apply<T>(in, out[0], [](auto a, auto b) { return a < b; }); break;
        case Compare::kGreater: apply<T>(in, out[0], [](auto a, auto b) { return a > b; }); break;
        case Compare::kLessOrEqual: apply<T>(in, out[0], [](auto a, auto b) { return a <= b; }); break;
        case Compare::kGreaterOrEqual: apply<T>(in, out[0], [](auto a, auto b) { return a >= b; }); break;
        case Compare::kAnd: apply<T>(in, out[0], [](auto a, auto b) { return a != 0 && b != 0; }); break;
        case Compare::kOr: apply<T>(in, out[0], [](auto a, auto b) { return a != 0 || b != 0; }); break;
        case Compare::kXor: apply<T>(in, out[0], [](auto a, auto b) { return (a != 0) != (b != 0); }); break;
      }
    });
  }

 private:
  template <class T, class Op>
  void apply(const kiln_tensor* in, kiln_tensor& out, Op op) const {
    const T* a = static_cast<const T*>(in[0].data);
    const T* b = static_cast<const T*>(in[1].data);
    auto* dst = static_cast<uint8_t*>(out.data);
    plan_.run(static_cast<int64_t>(sizeof(T)), [&](int64_t o, const std::array<int64_t, 2>& off,
                                                   const std::array<int64_t, 2>& st, int64_t n) {
      for (int64_t j = 0; j < n; ++j)
        dst[o + j] = static_cast<uint8_t>(op(widen(a[off[0] + j * st[0]]), widen(b[off[1] + j * st[1]])));
    });
  }

  std::string prefix_;
  Compare op_;
  int32_t dtype_;
  Broadcast<2> plan_;
};

SupportsFn supports_compare(bool allow_bool) {
  return [allow_bool](const NodeView& v) -> std::string {
    if (v.num_inputs() != 2 || !v.has_input(0) || !v.has_input(1) || v.num_outputs() != 1)
      return "expects two inputs and one output";
    int32_t t = v.input_dtype(0);
    if (v.input_dtype(1) != t) return "inputs have different dtypes";
    if (v.output_dtype(0) != KILN_DTYPE_BOOL) return std::string("output dtype ") + dtype_name(v.output_dtype(0)) + " is not bool";
    if (t == KILN_DTYPE_BOOL && !allow_bool) return "input dtype bool not supported";
    return dtype_size(t) ? "" : "input dtype not supported";
  };
}

PrepareFn prepare_compare(Compare op) {
  return [op](const NodeView& v) -> std::unique_ptr<Kernel> {
    check_broadcast(v, 2);
    return std::make_unique<CompareKernel>(plain::node_prefix(v), op, v.input_dtype(0),
                                           Broadcast<2>(v.output_shape(0), {v.input_shape(0), v.input_shape(1)}));
  };
}

// And, Or, Xor take bool inputs only.
std::string supports_logical(const NodeView& v) {
  std::string why = supports_compare(true)(v);
  if (!why.empty()) return why;
  return v.input_dtype(0) == KILN_DTYPE_BOOL ? "" : "inputs must be bool";
}

// ---- Not ----

class NotKernel : public Kernel {
 public:
  NotKernel(std::string prefix, int64_t count) : prefix_(std::move(prefix)), count_(count) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 1, n_out, 1);
    const auto* x = static_cast<const uint8_t*>(in[0].data);
    auto* y = static_cast<uint8_t*>(out[0].data);
    for (int64_t i = 0; i < count_; ++i) y[i] = x[i] ? 0 : 1;
  }

 private:
  std::string prefix_;
  int64_t count_;
};

std::string supports_not(const NodeView& v) {
  if (!v.has_input(0) || v.num_outputs() != 1) return "expects one input and one output";
  if (v.input_dtype(0) != KILN_DTYPE_BOOL || v.output_dtype(0) != KILN_DTYPE_BOOL) return "input and output must be bool";
  return "";
}

std::unique_ptr<Kernel> prepare_not(const NodeView& v) {
  plain::check_same_numel(v, 0, 0);
  return std::make_unique<NotKernel>(plain::node_prefix(v), numel(v.output_shape(0)));
}

// ---- BitShift (u8; i8, i32 and i64 from opset 28) ----

// A signed right shift is arithmetic; a left shift drops the bits pushed past the sign bit. A
// shift by a negative amount or by the width or more leaves only the sign fill: -1 for a right
// shift of a negative x, else 0 (BitShift-28's rule; older opsets left it undefined).
template <class T>
class BitShiftKernel : public Kernel {
  using U = std::make_unsigned_t<T>;
  static constexpr int64_t kBits = static_cast<int64_t>(sizeof(T) * 8);
  static bool is_negative(T x) {
    if constexpr (std::is_signed_v<T>) {
      return x < 0;
    } else {
      (void)x;
      return false;
    }
  }

 public:
  BitShiftKernel(std::string prefix, bool left, Broadcast<2> plan)
      : prefix_(std::move(prefix)), left_(left), plan_(std::move(plan)) {}
  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 2, n_out, 1);
    const auto* a = static_cast<const T*>(in[0].data);
    const auto* b = static_cast<const T*>(in[1].data);
    auto* dst = static_cast<T*>(out[0].data);
    plan_.run(1, [&](int64_t o, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
      for (int64_t j = 0; j < n; ++j) {
        const T x = a[off[0] + j * st[0]];
        const auto s = static_cast<int64_t>(b[off[1] + j * st[1]]);
        T r;
        if (s < 0 || s >= kBits)
          r = !left_ && is_negative(x) ? T(-1) : T(0);
        else if (left_)
          r = static_cast<T>(static_cast<U>(static_cast<U>(x) << s));
        else
          r = static_cast<T>(x >> s);
        dst[o + j] = r;
      }
    });
  }

 private:
  std::string prefix_;
  bool left_;
  Broadcast<2> plan_;
};

std::string supports_bit_shift(const NodeView& v) {
  if (v.num_inputs() != 2 || !v.has_input(0) || !v.has_input(1) || v.num_outputs() != 1)
    return "expects two inputs and one output";
  const int32_t dt = v.input_dtype(0);
  if (v.input_dtype(1) != dt || v.output_dtype(0) != dt) return "inputs and output must have one dtype";
  if (dt == KILN_DTYPE_U8) return "";
  if (dt != KILN_DTYPE_I8 && dt != KILN_DTYPE_I32 && dt != KILN_DTYPE_I64)
    return std::string("dtype ") + dtype_name(dt) + " not supported (u8, i8, i32, i64)";
  if (v.opset() < 28) return "signed integers need opset >= 28";
  return "";
}

std::unique_ptr<Kernel> prepare_bit_shift(const NodeView& v) {
  check_broadcast(v, 2);
  const bool left = v.attr_string("direction", "") == "LEFT";
  Broadcast<2> plan(v.output_shape(0), {v.input_shape(0), v.input_shape(1)});
  switch (v.input_dtype(0)) {
    case KILN_DTYPE_I8:
      return std::make_unique<BitShiftKernel<int8_t>>(plain::node_prefix(v), left, std::move(plan));
    case KILN_DTYPE_I32:
      return std::make_unique<BitShiftKernel<int32_t>>(plain::node_prefix(v), left, std::move(plan));
    case KILN_DTYPE_I64:
      return std::make_unique<BitShiftKernel<int64_t>>(plain::node_prefix(v), left, std::move(plan));
    default:
      return std::make_unique<BitShiftKernel<uint8_t>>(plain::node_prefix(v), left, std::move(plan));
  }
}

// ---- Where ----

class WhereKernel : public Kernel {
 public:
  WhereKernel(std::string prefix, size_t esize, Broadcast<3> plan)
      : prefix_(std::move(prefix)), esize_(esize), plan_(std::move(plan)) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, 3, n_out, 1);
    switch (esize_) {  // selection only moves bytes, so the element size is all that matters
      case 1: select<uint8_t>(in, out[0]); break;
      case 2: select<uint16_t>(in, out[0]); break;
      case 4: select<uint32_t>(in, out[0]); break;
      case 8: select<uint64_t>(in, out[0]); break;
      default: throw KernelError(KILN_ERR_INTERNAL, prefix_ + "unexpected element size");
    }
  }

 private:
  template <class T>
  void select(const kiln_tensor* in, kiln_tensor& out) const {
    const auto* c = static_cast<const uint8_t*>(in[0].data);
    const T* x = static_cast<const T*>(in[1].data);
    const T* y = static_cast<const T*>(in[2].data);
    T* dst = static_cast<T*>(out.data);
    plan_.run(static_cast<int64_t>(sizeof(T)), [&](int64_t o, const std::array<int64_t, 3>& off,
                                                   const std::array<int64_t, 3>& st, int64_t n) {
      for (int64_t j = 0; j < n; ++j)
        dst[o + j] = c[off[0] + j * st[0]] ? x[off[1] + j * st[1]] : y[off[2] + j * st[2]];
    });
  }

  std::string prefix_;
  size_t esize_;
  Broadcast<3> plan_;
};

std::string supports_where(const NodeView& v) {
  std::string why = dtypes_in(plain::all_dtypes())(v);
  if (!why.empty()) return why;
  if (v.num_inputs() != 3 || v.num_outputs() != 1) return "expects condition, X, Y and one output";
  for (size_t i = 0; i < 3; ++i)
    if (!v.has_input(i)) return "input " + std::to_string(i) + " is missing";
  if (v.input_dtype(0) != KILN_DTYPE_BOOL) return std::string("condition dtype ") + dtype_name(v.input_dtype(0)) + " is not bool";
  if (v.input_dtype(1) != v.output_dtype(0) || v.input_dtype(2) != v.output_dtype(0)) return "X, Y and output dtypes differ";
  return "";
}

std::unique_ptr<Kernel> prepare_where(const NodeView& v) {
  check_broadcast(v, 3);
  return std::make_unique<WhereKernel>(
      plain::node_prefix(v), dtype_size(v.output_dtype(0)),
      Broadcast<3>(v.output_shape(0), {v.input_shape(0), v.input_shape(1), v.input_shape(2)}));
}

}  // namespace

void register_logic_kernels(KernelTable& table) {
  table.add("Cast", supports_cast, prepare_cast);
  table.add("Where", supports_where, prepare_where);
  table.add("Equal", supports_compare(true), prepare_compare(Compare::kEqual));
  table.add("Less", supports_compare(false), prepare_compare(Compare::kLess));
  table.add("Greater", supports_compare(false), prepare_compare(Compare::kGreater));
  table.add("LessOrEqual", supports_compare(false), prepare_compare(Compare::kLessOrEqual));
  table.add("GreaterOrEqual", supports_compare(false), prepare_compare(Compare::kGreaterOrEqual));
  table.add("And", supports_logical, prepare_compare(Compare::kAnd));
  table.add("Or", supports_logical, prepare_compare(Compare::kOr));
  table.add("Xor", supports_logical, prepare_compare(Compare::kXor));
  table.add("Not", supports_not, prepare_not);
  table.add("CastLike", supports_cast, prepare_cast);
  table.add("BitShift", supports_bit_shift, prepare_bit_shift);
}

}  // namespace kiln::cpu

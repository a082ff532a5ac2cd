// Output comparison with the tolerances of ONNX's backend test runner.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "node_test.h"

namespace kiln::conformance {

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, NaN
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
  // Subnormal: mant * 2^-24.
  float v = std::ldexp(static_cast<float>(mant), -24);
  return sign ? -v : v;
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

// Element i (row-major over a contiguous tensor) as a double, for floats.
double float_at(const Tensor& t, int64_t i) {
  const void* p = t.raw_data();
  switch (t.dtype()) {
    case DType::kF32: return static_cast<const float*>(p)[i];
    case DType::kF64: return static_cast<const double*>(p)[i];
    case DType::kF16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::kBF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return 0;
  }
}

// Element i as an integer, for integers and bool.
int64_t int_at(const Tensor& t, int64_t i) {
  const void* p = t.raw_data();
  switch (t.dtype()) {
    case DType::kI64: return static_cast<const int64_t*>(p)[i];
    case DType::kI32: return static_cast<const int32_t*>(p)[i];
    case DType::kI8: return static_cast<const int8_t*>(p)[i];
    case DType::kU8: return static_cast<const uint8_t*>(p)[i];
    case DType::kBool: return static_cast<const uint8_t*>(p)[i];
    default: return 0;
  }
}

std::string index_of(const Dims& shape, int64_t flat) {
  Dims idx(shape.size());
  for (size_t k = shape.size(); k-- > 0;) {
    idx[k] = shape[k] ? flat % shape[k] : 0;
    flat = shape[k] ? flat / shape[k] : 0;
  }
  return kiln::to_string(idx);
}

bool floats_match(double a, double e, const Tolerance& tol) {
  if (std::isnan(a) || std::isnan(e)) return std::isnan(a) && std::isnan(e);
  if (std::isinf(a) || std::isinf(e)) return a == e;
  return std::fabs(a - e) <= tol.atol + tol.rtol * std::fabs(e);
}

}  // namespace

const char* to_string(Status status) {
  switch (status) {
    case Status::kPassed: return "passed";
    case Status::kFailed: return "failed";
    case Status::kUnsupported: return "unsupported";
    case Status::kWrong: return "wrong";
    case Status::kCrashed: return "crashed";
  }
  return "failed";
}

std::string failure_category(Status status, const std::string& reason) {
  auto has = [&](const char* text) { return reason.find(text) != std::string::npos; };
  switch (status) {
    case Status::kPassed: return "";
    case Status::kWrong: return "wrong";
    case Status::kCrashed: return "crashed";
    case Status::kFailed: return "error";
    case Status::kUnsupported: break;
  }
  if (has("of the default domain is not supported; kiln supports opsets")) return "opset";
  if (has("unsupported op")) return "missing op";
  if (has("element type") || has("dtype") || has("data type")) return "dtype";
  return "feature";
}

std::string compare_tensors(const Tensor& actual_in, const Tensor& expected_in, const Tolerance& tol,
                            const std::string& what) {
  if (!actual_in.defined()) return fmt::format("{}: kiln returned no tensor", what);
  if (actual_in.dtype() != expected_in.dtype())
    return fmt::format("{}: dtype {} but expected {}", what, kiln::to_string(actual_in.dtype()),
                       kiln::to_string(expected_in.dtype()));
  if (actual_in.shape() != expected_in.shape())
    return fmt::format("{}: shape {} but expected {}", what, kiln::to_string(actual_in.shape()),
                       kiln::to_string(expected_in.shape()));
  const Tensor actual = actual_in.to(Device::host()).contiguous();
  const Tensor expected = expected_in.to(Device::host()).contiguous();
  const int64_t n = expected.numel();
  int64_t mismatches = 0, worst = -1;
  double worst_excess = -1;
  const bool floating = is_floating(expected.dtype());
  for (int64_t i = 0; i < n; ++i) {
    if (floating) {
      double a = float_at(actual, i), e = float_at(expected, i);
      if (floats_match(a, e, tol)) continue;
      ++mismatches;
      // A NaN or infinity mismatch ranks above any finite one.
      double excess = std::isfinite(a - e) ? std::fabs(a - e) - tol.rtol * std::fabs(e) : INFINITY;
      if (worst < 0 || excess > worst_excess) worst = i, worst_excess = excess;
    } else if (int_at(actual, i) != int_at(expected, i)) {
      if (mismatches++ == 0) worst = i;
    }
  }
  if (mismatches == 0) return {};
  if (floating) {
    double a = float_at(actual, worst), e = float_at(expected, worst);
    return fmt::format("{}: {} of {} values differ beyond rtol {} atol {}; worst at {}: got {}, expected {} (|diff| {})",
                       what, mismatches, n, tol.rtol, tol.atol, index_of(expected.shape(), worst), a, e,
                       std::fabs(a - e));
  }
  return fmt::format("{}: {} of {} values differ; first at {}: got {}, expected {}", what, mismatches, n,
                     index_of(expected.shape(), worst), int_at(actual, worst), int_at(expected, worst));
}

}  // namespace kiln::conformance

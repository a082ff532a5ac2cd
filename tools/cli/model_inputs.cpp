#include "model_inputs.h"

#include <fmt/ranges.h>

#include <charconv>

#include "kiln/frontend/npy.h"
#include "kiln/runtime/error.h"

namespace kiln::cli {

std::map<std::string, Tensor> read_input_files(const std::vector<std::string>& specs,
                                               const std::vector<ValueInfo>& inputs) {
  std::map<std::string, Tensor> out;
  for (const std::string& spec : specs) {
    std::string name, file;
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      if (inputs.size() != 1) {
        std::vector<std::string> names;
        for (const ValueInfo& i : inputs) names.push_back(i.name);
        raise(ErrorCode::kInvalidArgument,
              "--input '{}' has no NAME= and the model has {} inputs ({}); use NAME=FILE.npy", spec,
              inputs.size(), fmt::join(names, ", "));
      }
      name = inputs[0].name;
      file = spec;
    } else {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
    }
    if (name.empty() || file.empty())
      raise(ErrorCode::kInvalidArgument, "--input '{}' is not NAME=FILE.npy", spec);
    if (out.count(name)) raise(ErrorCode::kInvalidArgument, "--input: input '{}' is given twice", name);
    out.emplace(name, read_npy(file));
  }
  return out;
}

std::pair<std::string, int64_t> parse_dim_spec(const std::string& spec) {
  size_t eq = spec.find('=');
  int64_t value = 0;
  if (eq != std::string::npos && eq > 0) {
    const char* begin = spec.data() + eq + 1;
    const char* end = spec.data() + spec.size();
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc() && ptr == end && begin != end && value > 0) return {spec.substr(0, eq), value};
  }
  raise(ErrorCode::kInvalidArgument, "--dim '{}' is not NAME=VALUE with a positive integer VALUE", spec);
}

std::vector<Dims> choose_input_dims(const std::vector<ValueInfo>& inputs, const DimChoice& choice) {
  // Symbols at axis 0 are batch symbols wherever else they appear.
  std::map<std::string, int64_t> symbols = choice.named;
  for (const ValueInfo& i : inputs)
    if (i.shape.has_rank() && i.shape.rank() > 0 && i.shape[0].is_symbolic())
      symbols.emplace(i.shape[0].symbol(), choice.batch);
  std::vector<Dims> out;
  for (const ValueInfo& i : inputs) {
    if (!i.shape.has_rank())
      raise(ErrorCode::kInvalidArgument, "input '{}' has an unknown rank; its shape cannot be chosen",
            i.name);
    Dims dims;
    for (size_t d = 0; d < i.shape.rank(); ++d) {
      const Dim& dim = i.shape[d];
      if (dim.is_static())
        dims.push_back(dim.value());
      else if (dim.is_symbolic())
        dims.push_back(symbols.count(dim.symbol()) ? symbols.at(dim.symbol()) : 1);
      else
        dims.push_back(d == 0 ? choice.batch : 1);
    }
    out.push_back(std::move(dims));
  }
  return out;
}

Tensor zero_tensor(DType dtype, const Dims& dims) { return Tensor::zeros(dims, dtype); }

namespace {

template <class T, class F>
Tensor fill(const Dims& dims, F&& next) {
  std::vector<T> values(static_cast<size_t>(checked_numel(dims)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = next();
  return Tensor::from_vector<T>(dims, values);
}

template <class T>
std::vector<double> widen(const Tensor& t) {
  std::vector<T> v = t.to_vector<T>();
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

Tensor random_tensor(DType dtype, const Dims& dims, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> bit(0, 1);
  switch (dtype) {
    case DType::kF32:
      return fill<float>(dims, [&] { return static_cast<float>(real(rng)); });
    case DType::kF64:
      return fill<double>(dims, [&] { return real(rng); });
    case DType::kI64:
      return fill<int64_t>(dims, [&] { return int64_t{bit(rng)}; });
    case DType::kI32:
      return fill<int32_t>(dims, [&] { return int32_t{bit(rng)}; });
    case DType::kI8:
      return fill<int8_t>(dims, [&] { return static_cast<int8_t>(bit(rng)); });
    case DType::kU8:
      return fill<uint8_t>(dims, [&] { return static_cast<uint8_t>(bit(rng)); });
    case DType::kBool:
      return fill<bool>(dims, [&] { return bit(rng) == 1; });
    default:
      raise(ErrorCode::kUnsupported, "cannot generate random {} inputs", to_string(dtype));
  }
}

std::vector<double> to_doubles(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kF32:
      return widen<float>(t);
    case DType::kF64:
      return widen<double>(t);
    case DType::kI64:
      return widen<int64_t>(t);
    case DType::kI32:
      return widen<int32_t>(t);
    case DType::kI8:
      return widen<int8_t>(t);
    case DType::kU8:
      return widen<uint8_t>(t);
    case DType::kBool:
      return widen<bool>(t);
    default:
      raise(ErrorCode::kUnsupported, "cannot summarize {} values", to_string(t.dtype()));
  }
}

}  // namespace kiln::cli

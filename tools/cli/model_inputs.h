#pragma once
// Inputs for `kiln run`, `kiln bench` and `kiln info`: --input specs read from .npy files,
// concrete dims chosen for symbolic ones, and generated (zero or seeded random) tensors.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kiln/onnx/inference_session.h"

namespace kiln::cli {

/// Reads the tensors named by --input specs: "NAME=FILE.npy", or "FILE.npy" when the model has
/// exactly one input. Throws Error(kInvalidArgument) on a malformed or repeated spec, or a bare
/// FILE for a model with several inputs; read errors come from read_npy and name the file.
std::map<std::string, Tensor> read_input_files(const std::vector<std::string>& specs,
                                               const std::vector<ValueInfo>& inputs);

/// How symbolic or unknown dims become numbers: dim 0 of an input is the batch, named symbols
/// take their given value, every other dim is 1.
struct DimChoice {
  int64_t batch = 1;
  std::map<std::string, int64_t> named;  // --dim NAME=VALUE
};

/// Parses "NAME=VALUE" (VALUE a positive integer). Throws Error(kInvalidArgument) on a bad spec.
std::pair<std::string, int64_t> parse_dim_spec(const std::string& spec);

/// Concrete shapes for every input, consistent across inputs (a symbol has one value). Throws
/// Error(kInvalidArgument) when an input has an unknown rank.
std::vector<Dims> choose_input_dims(const std::vector<ValueInfo>& inputs, const DimChoice& choice);

/// Zeros of the input's dtype (safe indices for Gather-like inputs).
Tensor zero_tensor(DType dtype, const Dims& dims);
/// Seeded random values: floats uniform in [-1, 1), integers in {0, 1}, bools at random.
/// Throws Error(kUnsupported) for dtypes kiln cannot generate (f16, bf16).
Tensor random_tensor(DType dtype, const Dims& dims, std::mt19937_64& rng);

/// Elements converted to double (bool as 0/1). Throws Error(kUnsupported) for f16/bf16.
std::vector<double> to_doubles(const Tensor& tensor);

}  // namespace kiln::cli

#pragma once
// Trainability repair of an imported graph. torch.onnx.export rewrites a model in ways that
// break naive fine-tuning; repair_for_training undoes what it can, exactly, and reports the rest:
// - initializers shared through Identity nodes (zero biases, BatchNorm's default gamma/beta,
//   the identical layers nn.TransformerEncoder copies) are untied into one tensor per Identity
//   output, under that output's (PyTorch's) name, as PyTorch trains them separately;
// - MatMul weights pre-transposed and renamed "onnx::MatMul_N" are mapped back to
//   "<layer>.weight" when the bias added next is "<layer>.bias" (nn.Linear on 3-d input; also
//   MultiheadAttention's in_proj_weight and in_proj_bias);
// - Conv weights named "onnx::Conv_N" carry a folded BatchNorm (EVAL export): they are trained
//   as the folded conv, and the report says so.
// torch.onnx.export(dynamo=True) with its optimizer (graph_repair_dynamo.cpp) merges equal
// initializers, renames transposed weights "val_N", lifts constants to initializers, drops zero
// biases and folds BatchNorm into Conv; from each node's module path and class (metadata_props):
// - an initializer read by several modules is untied into one tensor per module, under
//   "<module path>.<parameter>" ("encoder.layers.1.norm1.weight");
// - a "val_N" weight of a Linear, MultiheadAttention, norm, Conv or Embedding gets PyTorch's
//   name (stored back as [out, in] when MatMul reads it transposed); a zero bias the rewriter
//   dropped is restored as zeros; names the exported program's signature lacks are not made;
// - any other floating "val_N" is a constant (never trained, listed in unmapped_constants);
// - a Conv the rewriter folded a BatchNorm into (FuseBatchNormIntoConv) is reported as folded,
//   and the module parameters the signature lists but the file lacks as missing.

#include <string>
#include <vector>

#include "kiln/runtime/graph.h"

namespace kiln::nn {

/// How each floating initializer is treated.
enum class InitializerRole {
  kParameter,  // trained (PyTorch's name, or an ONNX name the report lists as unmapped)
  kBuffer,     // state that is not trained: BatchNorm running statistics
  kConstant,   // a constant the exporter made (scalars, folded shape values): never trained
};

struct TrainabilityReport {
  std::vector<std::string> untied;              // "layer1.0.bn2.bias (was shared with layer1.0.bn1.bias)"
  std::vector<std::string> mapped;              // "fc.weight <- onnx::MatMul_12 (transposed)"
  std::vector<std::string> unmapped_parameters; // trained under an ONNX name PyTorch does not have
  std::vector<std::string> unmapped_constants;  // floating constants kept frozen
  std::vector<std::string> folded_batchnorm;    // "onnx::Conv_193 (Conv 'Conv_0'): BatchNorm folded in"
  std::vector<std::string> missing_parameters;  // PyTorch's (graph signature) the file lacks (folded away)
  std::vector<std::string> non_differentiable;  // "node 'X' (Op)" between a parameter and an output
};

/// Rewrites graph in place (it must validate) and returns what was done. roles receives the
/// role of every floating initializer by name.
TrainabilityReport repair_for_training(Graph& graph, std::vector<std::pair<std::string, InitializerRole>>& roles);

}  // namespace kiln::nn

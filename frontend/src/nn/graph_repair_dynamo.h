#pragma once
// Trainability repair for torch.onnx.export(dynamo=True) files, whose onnxscript optimizer
// merges equal initializers, renames transposed weights "val_N", lifts constants to
// initializers, drops zero biases and folds BatchNorm into Conv. Every node carries its PyTorch
// module path and classes in metadata_props ("pkg.torch.onnx.name_scopes",
// "pkg.torch.onnx.class_hierarchy"), and the graph the parameter names
// ("pkg.torch.export.ExportedProgram.graph_signature"); the names are rebuilt from those.

#include <string>

#include "kiln/frontend/nn/graph_repair.h"
#include "kiln/runtime/graph.h"

namespace kiln::nn {

/// True for the names the dynamo exporter gives the values it makes ("val_12").
bool dynamo_named(const std::string& name);

/// Gives every use of a floating initializer by a module parameter's input (a Linear's
/// MatMul/Gemm weight and bias, LayerNorm/RMSNorm/BatchNorm/Conv/Embedding inputs,
/// MultiheadAttention's in_proj and out_proj) the tensor PyTorch names for that module: uses
/// from different modules get their own copies (untied), a "val_N" weight is renamed (and stored
/// back in PyTorch's [out, in] layout when MatMul reads it transposed), a zero bias the rewriter
/// removed is restored. Names the graph signature does not list are left alone. Adds what it
/// did to report (untied, mapped, folded_batchnorm). Does nothing on graphs without the metadata.
void repair_dynamo_export(Graph& graph, TrainabilityReport& report);

/// The nodes into which the rewriter folded a BatchNorm (rule FuseBatchNormInto*).
bool batchnorm_folded_into(const Node& node);

}  // namespace kiln::nn

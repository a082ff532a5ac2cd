#pragma once
// Exporting trained models (issue 5, item 5): an imported GraphModule back to ONNX (inference
// form or as trained), a frontend model (never imported) to ONNX by tracing its forward pass,
// and a GraphModule's weights to safetensors under PyTorch's state_dict names.

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/frontend/nn/graph_module.h"
#include "kiln/frontend/nn/module.h"
#include "kiln/frontend/tensor.h"
#include "kiln/runtime/graph.h"

namespace kiln::train {

/// Writes module->to_graph(form) to path as ONNX (producer "kiln"; the imported opsets, input and
/// output names and dynamic dims kept): the onnx checker must pass, and the file appears only
/// when complete (temporary file + rename). Throws Error(kNotFound) "OUT/x.onnx: folder 'OUT'
/// does not exist" before any work when the folder is missing, Error(kInvalidArgument) when the
/// graph fails the checker, Error(kIo) when it cannot be written; no partial file is left.
/// opset != 0 writes that default-domain opset instead of the imported one (onnx's version
/// converter); Error(kUnsupported) names an op that cannot convert.
void export_onnx(const nn::GraphModule& module, const std::string& path,
                 nn::ExportForm form = nn::ExportForm::kInference, int opset = 0);

/// Traces module.forward(example_input) in eval mode (restored afterwards) into a Graph: input
/// "input", output "output", parameters and buffers as initializers under their dotted names,
/// default-domain ops at opset 17 (what ONNX Runtime 1.13 and later read; Gelu and the
/// opset-18 forms of the Reduce ops are rewritten). With dynamic_batch, dim 0 of the input and
/// output is the symbol "batch". The forward pass is traced twice (the second time with one more
/// row, or without dynamic_batch with other input values) and the graphs must agree, so a
/// graph that bakes the batch size into a shape constant, or a copy kiln cannot trace, fails.
/// Throws Error(kInvalidArgument) naming the node and constant that depend on the batch size,
/// Error(kUnsupported) for a view or op the trace cannot express.
Graph trace_module(nn::Module& module, const Tensor& example_input, bool dynamic_batch = true);

/// trace_module, then written like export_onnx above (folder check, checker, atomic write).
void export_onnx(nn::Module& module, const Tensor& example_input, const std::string& path,
                 bool dynamic_batch = true);

struct SafetensorsExportOptions {
  /// Parameters trained under an ONNX name PyTorch does not have (module->report()
  /// .unmapped_parameters, e.g. a conv with BatchNorm folded in, "onnx::Conv_193"):
  /// PyTorch's load_state_dict(strict=True) rejects them. false: export fails listing them;
  /// true: they are left out and listed in the result.
  bool skip_unmapped = false;
  /// The value written for each BatchNorm's "<prefix>.num_batches_tracked" (PyTorch's state_dict
  /// has it, ONNX does not): e.g. the number of training steps taken. PyTorch reads it only
  /// for BatchNorm with momentum=None.
  int64_t num_batches_tracked = 0;
};

struct SafetensorsExportResult {
  std::vector<std::string> written;           // names in the file
  std::vector<std::string> skipped_unmapped;  // left out (skip_unmapped)
  std::vector<std::string> added;             // num_batches_tracked entries kiln made up
};

/// Writes module's parameters and buffers (current values) to path as safetensors under
/// PyTorch's state_dict names, with "<prefix>.num_batches_tracked" for each BatchNormalization
/// whose running mean is "<prefix>.running_mean", and metadata {"format": "pt"}. Throws
/// Error(kNotFound) when path's folder does not exist, Error(kInvalidArgument) listing the
/// unmapped parameters unless options.skip_unmapped, Error(kIo) when it cannot be written.
SafetensorsExportResult export_safetensors(const nn::GraphModule& module, const std::string& path,
                                           const SafetensorsExportOptions& options = {});

/// Throws Error(kNotFound) "PATH: folder 'DIR' does not exist" (or Error(kInvalidArgument) when
/// DIR is not a folder) for an output path whose folder is missing.
void check_output_folder(const std::string& path);

}  // namespace kiln::train

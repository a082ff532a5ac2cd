#pragma once
// Where the driver and `kiln export` hand a trained GraphModule to the exporters of
// kiln/train/export.h.

#include <cstdint>
#include <string>

#include "kiln/frontend/nn/graph_module.h"

namespace kiln::train {

/// Writes module as ONNX (inference form unless as_trained). Throws kiln::Error naming path; no
/// partial file. opset != 0 converts to that default-domain opset.
void export_trained_onnx(const nn::GraphModule& module, const std::string& path, bool as_trained, int opset = 0);
/// Writes module's parameters and buffers under PyTorch's names (num_batches_tracked = steps).
/// Throws kiln::Error naming path.
void export_trained_safetensors(const nn::GraphModule& module, const std::string& path, int64_t steps);

}  // namespace kiln::train

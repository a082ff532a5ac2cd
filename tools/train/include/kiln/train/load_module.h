#pragma once
// Loading an exported ONNX model as a trainable nn::GraphModule (onnx/ and frontend/ meet here,
// in tools/, so neither layer depends on the other).

#include <string>

#include "kiln/frontend/nn/graph_module.h"
#include "kiln/onnx/model.h"

namespace kiln::train {

/// Loads path with the ONNX importer and wraps its graph in a GraphModule (trainability repair
/// included; see module->report()). Throws kiln::Error naming the file on any problem.
nn::GraphModule load_module(const std::string& path, Generator* dropout_generator = nullptr);

/// The same from a loaded model (keeps `model`'s ModelProto fields for export).
nn::GraphModule module_from_model(onnx::Model model, Generator* dropout_generator = nullptr);

}  // namespace kiln::train

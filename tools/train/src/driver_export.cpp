#include "driver_export.h"

#include "kiln/train/export.h"

namespace kiln::train {

void export_trained_onnx(const nn::GraphModule& module, const std::string& path, bool as_trained, int opset) {
  export_onnx(module, path, as_trained ? nn::ExportForm::kAsTrained : nn::ExportForm::kInference, opset);
}

void export_trained_safetensors(const nn::GraphModule& module, const std::string& path, int64_t steps) {
  SafetensorsExportOptions options;
  options.num_batches_tracked = steps;
  export_safetensors(module, path, options);
}

}  // namespace kiln::train

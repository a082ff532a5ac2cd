// `kiln export CHECKPOINT -o OUT.onnx [--opset N] [--safetensors OUT.safetensors] [--model MODEL.onnx]`: export
// a model trained by `kiln train` from one of its checkpoints. The checkpoint names the model it
// was trained from (path and SHA-256); --model points elsewhere when that file moved.

#include <fmt/format.h>

#include <memory>

#include "commands.h"
#include "kiln/train/driver.h"

namespace kiln::cli {

namespace {
struct ExportArgs {
  std::string checkpoint, out, safetensors, model;
  bool as_trained = false;
  int opset = 0;
};
}  // namespace

Action add_export_command(CLI::App& app) {
  CLI::App* sub =
      app.add_subcommand("export", "Export a training checkpoint (kiln train --checkpoint-dir) to ONNX");
  auto a = std::make_shared<ExportArgs>();
  sub->add_option("checkpoint", a->checkpoint, "A checkpoint written by kiln train")->required();
  sub->add_option("-o,--output", a->out, "The .onnx file to write");
  sub->add_option("--safetensors", a->safetensors, "Also (or only) write the weights as .safetensors");
  sub->add_option("--model", a->model,
                  "The model the checkpoint was trained from (default: the path it records)");
  sub->add_flag("--as-trained", a->as_trained, "Export the graph as imported (not inference form)");
  sub->add_option("--opset", a->opset,
                  "Write this default-domain opset instead of the model's own (ONNX's version converter)");
  return [a] {
    for (const std::string& w :
         train::export_checkpoint(a->checkpoint, a->model, a->out, a->safetensors, a->as_trained,
                                   a->opset))
      fmt::print(stderr, "kiln: warning: {}\n", w);
    if (!a->out.empty()) fmt::print("wrote {}\n", a->out);
    if (!a->safetensors.empty()) fmt::print("wrote {}\n", a->safetensors);
    return 0;
  };
}

}  // namespace kiln::cli

#pragma once
// ONNX <-> kiln Graph. ONNX protobuf types never leave onnx/: this header shows only kiln types.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "kiln/runtime/graph.h"

namespace kiln::onnx {

/// Limits that keep a hostile file from exhausting memory; the onnx checker is not a safety
/// boundary.
struct LoadLimits {
  uint64_t max_file_bytes = uint64_t{2} << 30;  // protobuf's 2 GiB limit; larger needs external data
  size_t max_nodes = 1'000'000;
  size_t max_rank = 16;
  int64_t max_elements = int64_t{1} << 40;  // per tensor
};

struct LoadOptions {
  bool run_checker = true;  // onnx's checker first, then kiln's own checks
  LoadLimits limits;
};

/// A loaded model: the graph plus the ModelProto fields kiln keeps for `kiln info` and export.
struct Model {
  Graph graph;  // label() is the file name; opsets() holds every imported opset
  int64_t ir_version = 0;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::map<std::string, std::string> metadata;  // metadata_props
};

/// Loads an .onnx file (external data resolved against its folder). Throws kiln::Error naming
/// the file and, where it applies, the node, initializer or field and what is wrong.
Model load_model(const std::string& path, const LoadOptions& options = {});
/// Loads from serialized bytes; label names the source in messages, base_dir resolves
/// external data ("" forbids external data).
Model load_model_from_bytes(std::string_view bytes, const std::string& label, const std::string& base_dir = "",
                            const LoadOptions& options = {});

struct SaveOptions {
  bool run_checker = true;  // the written model must pass onnx's checker
  /// Default-domain opset to write (onnx's version converter); 0 keeps the graph's own. An op
  /// that cannot convert fails serialize_model with Error(kUnsupported) naming it.
  int opset = 0;
};

/// Serializes a graph (with model fields from `model`, e.g. the producer) to ModelProto bytes.
/// Throws kiln::Error when the graph cannot be expressed in ONNX or fails the checker.
std::string serialize_model(const Model& model, const SaveOptions& options = {});
/// serialize_model then a write to path (temporary file + rename, so no half-written model).
void save_model(const Model& model, const std::string& path, const SaveOptions& options = {});

/// Reads a serialized TensorProto file (ONNX's test data: input_0.pb, output_0.pb) as a host
/// tensor; name receives the proto's name when not null. Throws kiln::Error naming the file.
Tensor read_tensor_proto(const std::string& path, std::string* name = nullptr);

}  // namespace kiln::onnx

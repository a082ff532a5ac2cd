#pragma once
// Reading TensorBoard event files (kiln's, TensorBoard's, PyTorch's) without protobuf types:
// records are checked by record.h, events decoded into the plain structs below. Used by
// `kiln plot` and the tests.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/frontend/tensorboard/histogram.h"
#include "kiln/runtime/shape.h"

namespace kiln::tensorboard {

/// A TensorProto's contents.
struct TensorValue {
  std::string dtype;  // "float", "double", "int32", "int64", "uint8", "bool", "string", "half"...
  Dims shape;
  std::vector<double> numbers;       // numeric elements, from the *_val fields or tensor_content
  std::vector<std::string> strings;  // string elements
};

struct ImageValue {
  int height = 0, width = 0, colorspace = 0;
  std::string encoded;  // PNG bytes
};

struct SummaryValue {
  enum class Kind { kNone, kScalar, kHistogram, kImage, kTensor, kOther };
  std::string tag;
  std::string plugin_name;  // from this value's metadata; "" when it carries none
  std::string plugin_content;
  Kind kind = Kind::kNone;
  double scalar = 0;  // simple_value
  Histogram histogram;
  ImageValue image;
  TensorValue tensor;
};

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // "brain.Event:2" in the first record
  std::string graph_def;     // a serialized GraphDef (decode_graph_def)
  std::vector<SummaryValue> values;
};

struct EventFile {
  std::string path;
  std::vector<Event> events;        // the readable events, in file order
  std::vector<std::string> errors;  // bad records, "path: record 3 at byte 120: data CRC mismatch"
  bool truncated_tail = false;      // the file ends in an incomplete record (skipped)
};

/// Reads and decodes one event file. Bad records (CRC mismatch, not an Event) are listed in
/// errors and skipped (see RecordReadResult for when reading stops). Throws Error(kNotFound) or
/// Error(kIo) naming path when the file cannot be opened or read.
EventFile read_event_file(const std::string& path);

struct ScalarPoint {
  int64_t step = 0;
  double wall_time = 0;
  double value = 0;
};

/// The scalars of a file by tag, in file order: simple_value scalars, and one-element numeric
/// tensors of tags whose metadata (sent with a tag's first value) names plugin "scalars" — what
/// TensorFlow 2 and torch's new_style scalars write.
std::map<std::string, std::vector<ScalarPoint>> scalars_of(const EventFile& file);

/// Event files (names containing "tfevents") under logdir, recursively, sorted by path.
/// Throws Error(kNotFound) naming logdir when it is not a folder.
std::vector<std::string> find_event_files(const std::string& logdir);

/// A GraphDef node, for tests and tools.
struct GraphNodeInfo {
  std::string name, op;
  std::vector<std::string> inputs;
  std::vector<std::string> output_shapes;    // "_output_shapes" as "[2,3]", "[?,3]", "?"
  std::map<std::string, std::string> attrs;  // other attributes, printed ("3", "[1,1]", "\"a\"")
};

/// Decodes serialized GraphDef bytes. Throws Error(kInvalidArgument) when they are not one.
std::vector<GraphNodeInfo> decode_graph_def(std::string_view bytes);

}  // namespace kiln::tensorboard

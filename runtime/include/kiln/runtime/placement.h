#pragma once
// Placement: each node goes to the first backend in the preference list whose supports()
// accepts it; values crossing devices get copies.

#include <string>
#include <vector>

#include "kiln/runtime/backend.h"
#include "kiln/runtime/graph.h"

namespace kiln {

struct PlacementOptions {
  std::vector<std::string> backends{"cpu"};  // preference order
  bool strict = false;                       // any fallback is an error
};

struct NodePlacement {
  const Node* node = nullptr;
  Backend* backend = nullptr;
  bool fell_back = false;  // not on the first backend of the list
  bool folded = false;     // computed once at plan time (shape arithmetic), not at run time
  std::string reason;      // why the preferred backends declined, when fell_back
};

struct PlacementReport {
  std::vector<NodePlacement> nodes;  // execution order
  std::vector<std::string> unavailable;  // "cuda: no CUDA driver" for listed backends not loaded
  size_t num_copies = 0;                 // device copies inserted at boundaries
  size_t num_folded = 0;                 // nodes computed once at plan time (shape arithmetic)
  size_t num_fallbacks() const;
  /// A table: node, op, backend, and the reason for each fallback.
  std::string to_string() const;
};

/// Chooses the backend for one node: the first listed, loaded backend whose supports() accepts
/// desc (the node with concrete types). Throws Error(kUnsupported) naming the op, the node and
/// each backend's reason when none accepts it, and (strict) when the choice is not the first
/// listed backend.
NodePlacement place_node(const Node& node, const kiln_node& desc, const PlacementOptions& options,
                         const BackendRegistry& registry);

}  // namespace kiln

#include "kiln/runtime/placement.h"

#include <fmt/ranges.h>

#include <algorithm>

namespace kiln {

size_t PlacementReport::num_fallbacks() const {
  return static_cast<size_t>(std::count_if(nodes.begin(), nodes.end(), [](const NodePlacement& p) { return p.fell_back; }));
}

std::string PlacementReport::to_string() const {
  size_t name_width = 4, op_width = 2;
  for (const NodePlacement& p : nodes) {
    name_width = std::max(name_width, p.node->name().size());
    op_width = std::max(op_width, p.node->op_type().size());
  }
  std::string out = fmt::format("{:<{}}  {:<{}}  {:<8}  {}\n", "node", name_width, "op", op_width, "backend", "note");
  for (const NodePlacement& p : nodes) {
    std::string note = p.folded ? "folded at plan time" : "";
    if (p.fell_back) note += fmt::format("{}fell back: {}", note.empty() ? "" : "; ", p.reason);
    out += fmt::format("{:<{}}  {:<{}}  {:<8}  {}\n", p.node->name(), name_width, p.node->op_type(), op_width,
                       p.backend ? p.backend->name() : "-", note);
  }
  for (const std::string& u : unavailable) out += fmt::format("unavailable backend: {}\n", u);
  out += fmt::format("{} nodes, {} fell back, {} folded, {} device copies\n", nodes.size(), num_fallbacks(),
                     num_folded, num_copies);
  return out;
}

NodePlacement place_node(const Node& node, const kiln_node& desc, const PlacementOptions& options,
                         const BackendRegistry& registry) {
  NodePlacement placement{&node, nullptr, false, false, ""};
  std::vector<std::string> declined;
  for (const std::string& name : options.backends) {
    Backend* backend = registry.find(name);
    std::string reason;
    if (!backend) {
      reason = "unavailable: " + registry.why_missing(name);
    } else if (backend->supports(desc, &reason)) {
      placement.backend = backend;
      break;
    }
    declined.push_back(fmt::format("{}: {}", name, reason));
  }
  std::string reasons = fmt::format("{}", fmt::join(declined, "; "));
  if (!placement.backend)
    raise(ErrorCode::kUnsupported, "{}: no backend can run it ({})", node.describe(), reasons);
  if (!declined.empty()) {
    placement.fell_back = true;
    placement.reason = reasons;
    if (options.strict)
      raise(ErrorCode::kUnsupported, "{}: would fall back to '{}' but --strict is set ({})", node.describe(),
            placement.backend->name(), reasons);
  }
  return placement;
}

}  // namespace kiln

// Shape-changing cases: Reshape, Flatten, Squeeze, Unsqueeze, Expand, Tile and Shape.

#include <algorithm>
#include <optional>

#include "op_case.h"

namespace kiln::test {
namespace {

Dims dims_of(const Ref& r) {
  Dims d;
  for (double v : r.v) d.push_back(static_cast<int64_t>(v));
  return d;
}

// ONNX Reshape: 0 copies the input dim (unless allowzero), one -1 is inferred.
Dims reshape_target(const Dims& in, const Dims& spec, bool allowzero) {
  Dims out = spec;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) out[i] = in[i];
    if (out[i] == -1) infer_at = static_cast<int64_t>(i); else known *= out[i];
  }
  if (infer_at >= 0) out[static_cast<size_t>(infer_at)] = known == 0 ? 0 : numel_of(in) / known;
  return out;
}

OpCase reshape_case(const std::string& name, const Tensor& x, const Dims& shape, bool constant, bool allowzero = false) {
  OpCase oc(name, "Reshape");
  oc.input(x);
  const Tensor s = i64({static_cast<int64_t>(shape.size())}, shape);
  if (constant) oc.constant(s); else oc.input(s);
  if (allowzero) oc.attr("allowzero", 1);
  return oc.expect([allowzero](const Refs& in) {
    return Refs{reshaped(in[0], reshape_target(in[0].shape, dims_of(in[1]), allowzero))};
  });
}

OpCase flatten_case(const std::string& name, const Tensor& x, int64_t axis, bool set_axis = true) {
  OpCase oc(name, "Flatten");
  oc.input(x);
  if (set_axis) oc.attr("axis", axis);
  return oc.expect([axis](const Refs& in) {
    const int64_t a = norm_axis(axis, in[0].rank());
    const Dims outer(in[0].shape.begin(), in[0].shape.begin() + a), inner(in[0].shape.begin() + a, in[0].shape.end());
    return Refs{reshaped(in[0], {numel_of(outer), numel_of(inner)})};
  });
}

enum class AxesAs { kNone, kAttr, kInput, kConstant };

OpCase with_axes(OpCase oc, const Dims& axes, AxesAs as) {
  const Tensor t = i64({static_cast<int64_t>(axes.size())}, axes);
  if (as == AxesAs::kAttr) oc.attr("axes", axes);
  if (as == AxesAs::kInput) oc.input(t);
  if (as == AxesAs::kConstant) oc.constant(t);
  return oc;
}

OpCase squeeze_case(const std::string& name, int opset, const Tensor& x, const Dims& axes, AxesAs as) {
  return with_axes(OpCase(name, "Squeeze").at_opset(opset).input(x), axes, as).expect([axes](const Refs& in) {
    std::vector<bool> drop(in[0].shape.size(), axes.empty());
    for (int64_t a : axes) drop[static_cast<size_t>(norm_axis(a, in[0].rank()))] = true;
    Dims out;
    for (size_t i = 0; i < in[0].shape.size(); ++i) {
      if (!(drop[i] && in[0].shape[i] == 1)) out.push_back(in[0].shape[i]);
    }
    return Refs{reshaped(in[0], out)};
  });
}

OpCase unsqueeze_case(const std::string& name, int opset, const Tensor& x, const Dims& axes, AxesAs as) {
  return with_axes(OpCase(name, "Unsqueeze").at_opset(opset).input(x), axes, as).expect([axes](const Refs& in) {
    const int64_t rank = in[0].rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> added(static_cast<size_t>(rank), false);
    for (int64_t a : axes) added[static_cast<size_t>(norm_axis(a, rank))] = true;
    Dims out;
    size_t next = 0;
    for (int64_t i = 0; i < rank; ++i) out.push_back(added[static_cast<size_t>(i)] ? 1 : in[0].shape[next++]);
    return Refs{reshaped(in[0], out)};
  });
}

OpCase expand_case(const std::string& name, const Tensor& x, const Dims& shape, bool constant) {
  OpCase oc(name, "Expand");
  oc.input(x);
  const Tensor s = i64({static_cast<int64_t>(shape.size())}, shape);
  if (constant) oc.constant(s); else oc.input(s);
  return oc.expect([](const Refs& in) {
    Ref y(in[0].dtype, broadcast_shapes({in[0].shape, dims_of(in[1])}));
    for_each_index(y.shape, [&](const Dims& i) { y.at(i) = in[0].v[static_cast<size_t>(broadcast_offset(i, in[0].shape))]; });
    return Refs{y};
  });
}

OpCase tile_case(const std::string& name, const Tensor& x, const Dims& repeats, bool constant) {
  OpCase oc(name, "Tile");
  oc.input(x);
  const Tensor r = i64({static_cast<int64_t>(repeats.size())}, repeats);
  if (constant) oc.constant(r); else oc.input(r);
  return oc.expect([](const Refs& in) {
    const Dims reps = dims_of(in[1]);
    Dims out_shape;
    for (size_t i = 0; i < reps.size(); ++i) out_shape.push_back(in[0].shape[i] * reps[i]);
    Ref y(in[0].dtype, out_shape);
    for_each_index(out_shape, [&](const Dims& o) {
      Dims xi(o.size());
      for (size_t i = 0; i < o.size(); ++i) xi[i] = o[i] % in[0].shape[i];
      y.at(o) = in[0].at(xi);
    });
    return Refs{y};
  });
}

OpCase shape_case(const std::string& name, const Tensor& x, int opset, std::optional<int64_t> start,
                  std::optional<int64_t> end) {
  OpCase oc(name, "Shape");
  oc.at_opset(opset).input(x);
  if (start) oc.attr("start", *start);
  if (end) oc.attr("end", *end);
  return oc.expect([start, end](const Refs& in) {
    const int64_t rank = in[0].rank();
    auto clamp_axis = [rank](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
    const int64_t b = clamp_axis(start.value_or(0)), e = clamp_axis(end.value_or(rank));
    std::vector<double> dims;
    for (int64_t i = b; i < e; ++i) dims.push_back(static_cast<double>(in[0].shape[static_cast<size_t>(i)]));
    return Refs{Ref(DType::kI64, {static_cast<int64_t>(dims.size())}, dims)};
  });
}

OpCase size_case(const std::string& name, const Tensor& x) {
  OpCase oc(name, "Size");
  oc.at_opset(13).input(x);
  return oc.expect([](const Refs& in) { return Refs{Ref(DType::kI64, {}, {static_cast<double>(in[0].numel())})}; });
}

std::vector<OpCase> cases() {
  Gen gen(8);
  return {
      reshape_case("ReshapeConstantShape", gen.uniform({2, 3, 4}), {4, -1}, true),
      reshape_case("ReshapeInputShapeZeroCopies", gen.uniform({2, 3, 4}), {0, -1}, false),
      reshape_case("ReshapeToRank0", gen.uniform({1}), {}, true),
      reshape_case("ReshapeRank0ToVector", f32_scalar(4.5f), {-1}, true),
      reshape_case("ReshapeToRank6", gen.uniform({24}), {2, 1, 3, 1, 2, 2}, false),
      reshape_case("ReshapeEmptyZeroCopies", gen.uniform({2, 0, 3}), {0, -1}, true),
      reshape_case("ReshapeAllowZero", gen.uniform({0, 3}), {3, 0}, true, true).at_opset(14),
      reshape_case("ReshapeI64", gen.integers({6}, -50, 50), {3, 2}, true),
      flatten_case("FlattenDefaultAxis", gen.uniform({2, 3, 4, 5}), 1, false),
      flatten_case("FlattenAxis0", gen.uniform({2, 3, 4}), 0),
      flatten_case("FlattenNegativeAxis", gen.uniform({2, 3, 4, 5}), -1),
      flatten_case("FlattenAxisRank", gen.uniform({2, 3, 4}), 3),
      squeeze_case("SqueezeAxesAttrOpset11", 11, gen.uniform({2, 1, 3, 1}), {1, 3}, AxesAs::kAttr),
      squeeze_case("SqueezeAxesInputOpset13", 13, gen.uniform({2, 1, 3, 1}), {-1}, AxesAs::kInput),
      squeeze_case("SqueezeAxesConstantOpset13", 13, gen.uniform({1, 4, 1}), {0}, AxesAs::kConstant),
      squeeze_case("SqueezeAllOnes", 13, gen.uniform({1, 3, 1, 2}), {}, AxesAs::kNone),
      squeeze_case("SqueezeToRank0", 13, gen.uniform({1, 1}), {}, AxesAs::kNone),
      unsqueeze_case("UnsqueezeAxesAttrOpset11", 11, gen.uniform({2, 3}), {0, 3}, AxesAs::kAttr),
      unsqueeze_case("UnsqueezeAxesInputOpset13", 13, gen.uniform({2, 3}), {-1, 1}, AxesAs::kInput),
      unsqueeze_case("UnsqueezeRank0", 13, f32_scalar(2.0f), {0}, AxesAs::kConstant),
      unsqueeze_case("UnsqueezeToRank6", 13, gen.uniform({2, 3, 2}), {1, 3, -1}, AxesAs::kConstant),
      expand_case("ExpandBidirectional", gen.uniform({3, 1}), {2, 1, 6}, true),
      expand_case("ExpandShapeSmallerRank", gen.uniform({2, 1, 4}), {3, 1}, false),
      expand_case("ExpandRank0", f32_scalar(1.25f), {2, 2}, true),
      expand_case("ExpandToEmpty", gen.uniform({3, 1}), {3, 0}, true),
      expand_case("ExpandToRank6", gen.uniform({3, 1, 2}), {2, 1, 2, 3, 4, 1}, true),
      expand_case("ExpandI64", gen.integers({1, 3}, -5, 5), {2, 3}, true),
      tile_case("Tile2d", gen.uniform({2, 3}), {2, 1}, true),
      tile_case("Tile3dInput", gen.uniform({1, 2, 2}), {1, 3, 2}, false),
      tile_case("TileZeroRepeat", gen.uniform({2, 2}), {0, 2}, true),
      tile_case("TileI64", gen.integers({3}, 0, 9), {3}, true),
      shape_case("Shape", gen.uniform({2, 3, 4}), 13, std::nullopt, std::nullopt),
      shape_case("ShapeStartOpset15", gen.uniform({2, 3, 4}), 15, 1, std::nullopt),
      shape_case("ShapeStartEndNegative", gen.uniform({2, 3, 4, 5}), 15, -3, -1),
      shape_case("ShapeOfRank0", f32_scalar(1.0f), 13, std::nullopt, std::nullopt),
      shape_case("ShapeOfEmpty", gen.uniform({0, 5}), 13, std::nullopt, std::nullopt),
      size_case("Size", gen.uniform({2, 3, 4})),
      size_case("SizeOfScalar", f32_scalar(2.0f)),
      size_case("SizeOfEmpty", gen.integers({3, 0}, 0, 1)),
  };
}

}  // namespace

KILN_OP_CASES(Shape, cases());

}  // namespace kiln::test

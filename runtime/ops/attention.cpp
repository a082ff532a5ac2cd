// Attention (scaled dot-product attention, opset 23) and RotaryEmbedding (opset 23): the two
// transformer ops that PyTorch's opset-23 exporter writes for scaled_dot_product_attention and
// that LLM exports use for rotary positions.
#include <cmath>
#include <limits>

#include "grad_util.h"
#include "infer_util.h"
#include "op_families.h"

namespace kiln::ops {
namespace {

constexpr int64_t kOnnxFloat = 1, kOnnxDouble = 11;

// ---- Attention
//
// Q [B, Hq, Sq, D] or [B, Sq, Hq*D], K [B, Hkv, Skv, D] or [B, Skv, Hkv*D], V likewise with Dv;
// past_key/past_value [B, Hkv, P, D|Dv] are concatenated in front of K and V along the sequence
// (present_key/present_value, T = P + Skv keys). Query head h uses key/value head h / (Hq/Hkv).
//   S = scale * Q K^T (scale defaults to 1/sqrt(D)), softcap: S = c * tanh(S / c) when c != 0,
//   S += bias (attn_mask: bool -> 0/-inf, float -> added; is_causal: -inf where j > i + P),
//   P = softmax(S) over the keys, with a row whose bias is all -inf set to zero, Y = P V.
// qk_matmul_output is S before softcap (mode 0), after it (1), after the bias (2) or P (3).

// The attribute checks shared by inference; kiln computes every supported softmax_precision
// (f32, f64) at least at that precision.
void check_attention_attrs(const InferContext& c) {
  const int64_t causal = c.attr_int("is_causal");
  if (causal != 0 && causal != 1) c.fail("attribute 'is_causal' is {}, expected 0 or 1", causal);
  const int64_t mode = c.attr_int("qk_matmul_output_mode");
  if (mode < 0 || mode > 3) c.fail("attribute 'qk_matmul_output_mode' is {}, expected 0, 1, 2 or 3", mode);
  if (c.has_attr("softmax_precision")) {
    const int64_t p = c.attr_int("softmax_precision");
    if (p != kOnnxFloat && p != kOnnxDouble)
      fail_unsupported(
          c, fmt::format("attribute 'softmax_precision' is {}; kiln computes the softmax in float (1) "
                         "or double (11) only",
                         p));
  }
  if (c.has_attr("scale")) {
    const float scale = c.attr_float("scale");
    if (!(scale >= 0.f) || !std::isfinite(scale))
      c.fail("attribute 'scale' is {}, expected a finite value >= 0 (ONNX scales Q and K by sqrt(scale))",
             scale);
  }
  if (!std::isfinite(c.attr_float("softcap")))
    c.fail("attribute 'softcap' is {}, expected a finite value", c.attr_float("softcap"));
  for (const char* name : {"q_num_heads", "kv_num_heads"})
    if (c.has_attr(name) && c.attr_int(name) <= 0)
      c.fail("attribute '{}' is {}, expected > 0", name, c.attr_int(name));
}

Dim merged(const InferContext& c, const Dim& a, const Dim& b, const char* what) {
  std::optional<Dim> m = merge_dim(a, b);
  if (!m) c.fail("{} differ: {} and {}", what, a.to_string(), b.to_string());
  return *m;
}

// hidden / heads for a 3-D input's last dim; fails when it does not divide.
Dim per_head(const InferContext& c, const Dim& hidden, int64_t heads, const char* input) {
  if (!hidden.is_static()) return Dim();
  if (hidden.value() % heads != 0)
    c.fail("{} has hidden size {}, which {} heads do not divide", input, hidden.value(), heads);
  return Dim(hidden.value() / heads);
}

void infer_attention(InferContext& c) {
  check_attention_attrs(c);
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  require_same_dtype(c, 0, 2);
  const DType dtype = c.input_dtype(0);
  if (c.has_input(3)) {
    const DType m = c.input_dtype(3);
    if (m != DType::kUndefined && m != DType::kBool && m != dtype)
      fail_unsupported(
          c, fmt::format("attn_mask has dtype {}; kiln takes a bool mask or a float mask of Q's dtype {}",
                         to_string(m), to_string(dtype)));
  }
  if (c.has_input(4) != c.has_input(5)) c.fail("past_key and past_value must be given together");
  if (c.has_input(4)) {
    require_same_dtype(c, 0, 4);
    require_same_dtype(c, 0, 5);
  }
  const Shape &q = c.input_shape(0), &k = c.input_shape(1), &v = c.input_shape(2);
  require_rank(c, 0, q, 3, 4);
  require_rank(c, 1, k, 3, 4);
  require_rank(c, 2, v, 3, 4);
  Dim batch, hq, hkv, sq, skv, d, dv, past(int64_t{0});
  const bool ranks_known = q.has_rank() && k.has_rank() && v.has_rank();
  if (ranks_known && !(q.rank() == k.rank() && k.rank() == v.rank()))
    c.fail("Q, K and V have ranks {}, {} and {}; they must all be 3-D or all 4-D", q.rank(), k.rank(),
           v.rank());
  const bool three_d = q.has_rank() && q.rank() == 3;
  if (three_d) {
    for (const char* name : {"q_num_heads", "kv_num_heads"})
      if (!c.has_attr(name)) c.fail("3-D inputs need attribute '{}'", name);
  }
  if (q.has_rank() && !ranks_known) {  // Q alone: what it says of the outputs
    batch = q[0];
    sq = three_d ? q[1] : q[2];
    hq = three_d ? Dim(c.attr_int("q_num_heads")) : q[1];
  }
  if (ranks_known) {
    batch = merged(c, merged(c, q[0], k[0], "batch sizes of Q and K"), v[0], "batch sizes of K and V");
    if (three_d) {
      const int64_t nq = c.attr_int("q_num_heads"), nkv = c.attr_int("kv_num_heads");
      hq = nq;
      hkv = nkv;
      sq = q[1];
      skv = merged(c, k[1], v[1], "sequence lengths of K and V");
      d = merged(c, per_head(c, q[2], nq, "Q"), per_head(c, k[2], nkv, "K"), "head sizes of Q and K");
      dv = per_head(c, v[2], nkv, "V");
    } else {
      hq = q[1];
      hkv = merged(c, k[1], v[1], "head counts of K and V");
      for (auto [name, dim] : {std::pair{"q_num_heads", hq}, std::pair{"kv_num_heads", hkv}})
        if (c.has_attr(name) && dim.is_static() && dim.value() != c.attr_int(name))
          c.fail("attribute '{}' is {} but the 4-D input has {} heads", name, c.attr_int(name), dim.value());
      sq = q[2];
      skv = merged(c, k[2], v[2], "sequence lengths of K and V");
      d = merged(c, q[3], k[3], "head sizes of Q and K");
      dv = v[3];
    }
    if (hq.is_static() && hkv.is_static() && (hkv.value() == 0 || hq.value() % hkv.value() != 0))
      c.fail("{} query heads are not a multiple of {} key/value heads", hq.value(), hkv.value());
  }
  if (c.has_input(4)) {
    const Shape &pk = c.input_shape(4), &pv = c.input_shape(5);
    require_rank(c, 4, pk, 4, 4);
    require_rank(c, 5, pv, 4, 4);
    if (pk.has_rank() && pv.has_rank()) {
      batch = merged(c, merged(c, batch, pk[0], "batch sizes of past_key and Q"), pv[0],
                     "batch sizes of past_value and Q");
      hkv = merged(c, merged(c, hkv, pk[1], "head counts of past_key and K"), pv[1],
                   "head counts of past_value and K");
      past = merged(c, pk[2], pv[2], "sequence lengths of past_key and past_value");
      d = merged(c, d, pk[3], "head sizes of past_key and K");
      dv = merged(c, dv, pv[3], "head sizes of past_value and V");
    } else {
      past = Dim();
    }
  }
  const Dim total = past.is_static() && skv.is_static()     ? Dim(checked_add(c, past.value(), skv.value()))
                    : past.is_static() && past.value() == 0 ? skv
                                                            : Dim();
  if (c.has_input(3)) check_unidirectional(c, c.input_shape(3), Shape{batch, hq, sq, total}, "attn_mask");
  if (!q.has_rank()) {
    c.set_output(0, dtype, Shape::unknown_rank());
  } else if (three_d) {
    c.set_output(
        0, dtype,
        Shape{batch, sq,
              dv.is_static() && hq.is_static() ? Dim(checked_mul(c, dv.value(), hq.value())) : Dim()});
  } else {
    c.set_output(0, dtype, Shape{batch, hq, sq, dv});
  }
  if (c.num_outputs() > 1) c.set_output(1, dtype, Shape{batch, hkv, total, d});
  if (c.num_outputs() > 2) c.set_output(2, dtype, Shape{batch, hkv, total, dv});
  if (c.num_outputs() > 3) c.set_output(3, dtype, Shape{batch, hq, sq, total});
}

// A 3-D [B, S, H*D] tensor as [B, H, S, D]; a 4-D one unchanged.
Tensor to_heads(const Tensor& t, int64_t heads) {
  if (t.rank() == 4) return t;
  return transpose(reshape(t, {t.dim(0), t.dim(1), heads, t.dim(2) / heads}), {0, 2, 1, 3});
}

// The inverse of to_heads for a tensor of the input's rank.
Tensor from_heads(const Tensor& t, size_t rank) {
  if (rank == 4) return t;
  return reshape(transpose(t, {0, 2, 1, 3}), {t.dim(0), t.dim(2), t.dim(1) * t.dim(3)});
}

// Key/value heads [B, Hkv, T, D] repeated for the query heads [B, Hkv*g, T, D] (head h uses h / g).
Tensor repeat_heads(const Tensor& t, int64_t groups) {
  if (groups == 1) return t;
  const Dims s = t.shape();
  return reshape(expand(unsqueeze(t, {2}), {s[0], s[1], groups, s[2], s[3]}),
                 {s[0], s[1] * groups, s[2], s[3]});
}

// The gradient of repeat_heads: the query heads of each group summed.
Tensor sum_heads(const Tensor& t, int64_t groups) {
  if (groups == 1) return t;
  const Dims s = t.shape();
  return sum(reshape(t, {s[0], s[1] / groups, groups, s[2], s[3]}), {2});
}

// The additive bias [.., Sq, T] of the mask and the causal rule, in like's dtype.
Tensor attention_bias(const GradContext& g, const Tensor& like, int64_t sq, int64_t total, int64_t past) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor bias;
  if (g.num_inputs() > 3 && g.input(3).defined()) {
    const Tensor& mask = g.input(3);
    bias = mask.dtype() == DType::kBool ? where(mask, scalar_like(0, like), scalar_like(-inf, like)) : mask;
  }
  if (g.attr_int("is_causal") != 0) {
    std::vector<double> causal(static_cast<size_t>(sq * total), 0.0);
    for (int64_t i = 0; i < sq; ++i)
      for (int64_t j = i + past + 1; j < total; ++j) causal[static_cast<size_t>(i * total + j)] = -inf;
    Tensor c = cast(Tensor::from_vector<double>({sq, total}, causal).to(like.device()), like.dtype());
    bias = bias.defined() ? bias + c : c;
  }
  return bias;
}

// Recomputes the forward pass in kiln ops and backpropagates through it: the gradients of Q, K,
// V, past_key, past_value and a float attn_mask (bool masks have none). Gradients reaching
// present_key/present_value and qk_matmul_output (any mode) are included.
void grad_attention(GradContext& g) {
  const Tensor &q_in = g.input(0), &k_in = g.input(1), &v_in = g.input(2);
  const size_t rank = q_in.rank();
  const int64_t hq = rank == 4 ? q_in.dim(1) : g.attr_int("q_num_heads");
  const int64_t hkv = rank == 4 ? k_in.dim(1) : g.attr_int("kv_num_heads");
  const int64_t groups = hq / hkv;
  const bool has_past = g.num_inputs() > 4 && g.input(4).defined();
  const Tensor q = to_heads(q_in, hq), k_new = to_heads(k_in, hkv), v_new = to_heads(v_in, hkv);
  const Tensor k_all = has_past ? concat({g.input(4), k_new}, 2) : k_new;
  const Tensor v_all = has_past ? concat({g.input(5), v_new}, 2) : v_new;
  const int64_t sq = q.dim(2), past = has_past ? g.input(4).dim(2) : 0, total = k_all.dim(2);
  const double scale = g.attrs().has("scale") ? static_cast<double>(g.attr_float("scale"))
                                              : 1.0 / std::sqrt(static_cast<double>(q.dim(3)));
  const double softcap = g.attr_float("softcap");
  const int64_t mode = g.attr_int("qk_matmul_output_mode");
  const Tensor kx = repeat_heads(k_all, groups), vx = repeat_heads(v_all, groups);

  Tensor s = matmul(q, transpose(kx, {0, 1, 3, 2})) * scale;
  Tensor capped;  // tanh(S / softcap)
  if (softcap != 0) {
    capped = tanh(s / softcap);
    s = capped * softcap;
  }
  const Tensor bias = attention_bias(g, q, sq, total, past);
  if (bias.defined()) s = s + bias;
  Tensor p = softmax(s, -1);
  if (bias.defined()) {
    const Tensor dead =
        equal(amax(bias, {-1}, true), scalar_like(-std::numeric_limits<double>::infinity(), bias));
    p = where(dead, zeros_like(p), p);
  }
  const auto qk_grad = [&](int64_t m) { return g.num_outputs() > 3 && mode == m && g.has_output_grad(3); };

  Tensor dy = g.output_grad(0);
  if (rank == 3) dy = to_heads(dy, hq);
  Tensor dp = matmul(dy, transpose(vx, {0, 1, 3, 2}));
  if (qk_grad(3)) dp = dp + g.output_grad(3);
  Tensor ds = p * (dp - sum(dp * p, {-1}, true));
  if (qk_grad(2)) ds = ds + g.output_grad(3);
  if (g.num_inputs() > 3 && g.needs_input_grad(3) && g.input(3).dtype() != DType::kBool)
    g.set_input_grad(3, sum_to(ds, g.input(3).shape()));
  if (qk_grad(1)) ds = ds + g.output_grad(3);
  if (softcap != 0) ds = ds * (1.0 - capped * capped);
  if (qk_grad(0)) ds = ds + g.output_grad(3);

  if (g.needs_input_grad(0)) g.set_input_grad(0, from_heads(matmul(ds, kx) * scale, rank));
  const auto route = [&](Tensor d_all, size_t out, size_t in, size_t past_in) {
    if (g.num_outputs() > out && g.has_output_grad(out)) d_all = d_all + g.output_grad(out);
    if (has_past && g.needs_input_grad(past_in)) g.set_input_grad(past_in, slice(d_all, 2, 0, past));
    if (g.needs_input_grad(in))
      g.set_input_grad(in, from_heads(has_past ? slice(d_all, 2, past, total) : d_all, rank));
  };
  if (g.needs_input_grad(1) || (has_past && g.needs_input_grad(4)))
    route(sum_heads(matmul(transpose(ds, {0, 1, 3, 2}), q) * scale, groups), 1, 1, 4);
  if (g.needs_input_grad(2) || (has_past && g.needs_input_grad(5)))
    route(sum_heads(matmul(transpose(p, {0, 1, 3, 2}), dy), groups), 2, 2, 5);
}

// ---- RotaryEmbedding
//
// X [B, H, S, D] or [B, S, H*D] (num_heads given); the first rotary_embedding_dim (R, default
// D) features of each head rotate by the angle of the token's position, the rest pass through.
// cos_cache/sin_cache are [max_position, R/2] indexed by position_ids [B, S], or [B, S, R/2]
// without position_ids. Pairs are (i, i + R/2), or (2i, 2i + 1) when interleaved:
//   y1 = cos * x1 - sin * x2, y2 = sin * x1 + cos * x2.

void infer_rotary_embedding(InferContext& c) {
  require_floating(c, 0);
  require_same_dtype(c, 0, 1);
  require_same_dtype(c, 0, 2);
  const int64_t interleaved = c.attr_int("interleaved");
  if (interleaved != 0 && interleaved != 1)
    c.fail("attribute 'interleaved' is {}, expected 0 or 1", interleaved);
  const int64_t rotary = c.attr_int("rotary_embedding_dim");
  if (rotary < 0) c.fail("attribute 'rotary_embedding_dim' is {}, expected >= 0", rotary);
  if (c.has_attr("num_heads") && c.attr_int("num_heads") <= 0)
    c.fail("attribute 'num_heads' is {}, expected > 0", c.attr_int("num_heads"));
  const Shape& x = c.input_shape(0);
  require_rank(c, 0, x, 3, 4);
  const bool with_positions = c.has_input(3);
  if (with_positions) require_index(c, 3);
  Dim batch, seq, head;
  if (x.has_rank()) {
    batch = x[0];
    if (x.rank() == 3) {
      if (!c.has_attr("num_heads")) c.fail("a 3-D input X needs attribute 'num_heads'");
      seq = x[1];
      head = per_head(c, x[2], c.attr_int("num_heads"), "X");
    } else {
      seq = x[2];
      head = x[3];
    }
  }
  if (head.is_static()) {
    const int64_t r = rotary == 0 ? head.value() : rotary;
    if (r > head.value())
      c.fail("attribute 'rotary_embedding_dim' is {}, more than the head size {}", r, head.value());
    if (r % 2 != 0) c.fail("the rotary dimension {} is odd", r);
  }
  const Dim half = rotary != 0 ? Dim(rotary / 2) : head.is_static() ? Dim(head.value() / 2) : Dim();
  const Shape& pos = with_positions ? c.input_shape(3) : Shape::unknown_rank();
  if (with_positions) {
    require_rank(c, 3, pos, 2, 2);
    if (pos.has_rank() && (!merge_dim(pos[0], batch) || !merge_dim(pos[1], seq)))
      c.fail("position_ids has shape {}, expected [batch, sequence] of X {}", pos.to_string(), x.to_string());
  }
  static const char* const kNames[] = {"", "cos_cache", "sin_cache"};
  for (size_t i = 1; i < 3; ++i) {
    const Shape& s = c.input_shape(i);
    if (!s.has_rank()) continue;
    if (with_positions) {
      if (s.rank() != 2)
        c.fail("{} has rank {}, expected 2 ([max_position, rotary_dim/2]) with position_ids", kNames[i],
               s.rank());
      if (!merge_dim(s[1], half))
        c.fail("{} has shape {}, expected last dim {}", kNames[i], s.to_string(), half.to_string());
    } else {
      if (s.rank() != 3)
        c.fail("{} has rank {}, expected 3 ([batch, sequence, rotary_dim/2]) without position_ids", kNames[i],
               s.rank());
      if (!merge_dim(s[0], batch) || !merge_dim(s[1], seq) || !merge_dim(s[2], half))
        c.fail("{} has shape {}, expected [{}, {}, {}]", kNames[i], s.to_string(), batch.to_string(),
               seq.to_string(), half.to_string());
    }
  }
  if (c.input_shape(1).has_rank() && c.input_shape(2).has_rank() &&
      c.input_shape(1).rank() == c.input_shape(2).rank())
    for (size_t d = 0; d < c.input_shape(1).rank(); ++d)
      if (!merge_dim(c.input_shape(1)[d], c.input_shape(2)[d]))
        c.fail("cos_cache {} and sin_cache {} differ in shape", c.input_shape(1).to_string(),
               c.input_shape(2).to_string());
  c.set_output(0, c.input_dtype(0), x);
}

// The rotation is orthogonal: its transpose is the rotation by the negated angle, so dX is the
// op itself applied to dY with -sin. cos_cache and sin_cache get their gradients from the pairs
// (x1, x2) and (dy1, dy2), summed over heads (and over tokens sharing a position).
void grad_rotary_embedding(GradContext& g) {
  const Tensor &x = g.input(0), &cos_cache = g.input(1), &sin_cache = g.input(2);
  const bool with_positions = g.num_inputs() > 3 && g.input(3).defined();
  const Tensor dy = g.output_grad(0);
  if (g.needs_input_grad(0)) {
    std::vector<Tensor> inputs{dy, cos_cache, -sin_cache};
    if (with_positions) inputs.push_back(g.input(3));
    g.set_input_grad(0, run_op1("RotaryEmbedding", inputs, g.attrs(), "", g.opset()));
  }
  if (!g.needs_input_grad(1) && !g.needs_input_grad(2)) return;
  // [B, S, H, D] views of X and dY.
  const auto bshd = [&](const Tensor& t) {
    if (t.rank() == 4) return transpose(t, {0, 2, 1, 3});
    const int64_t heads = g.attr_int("num_heads");
    return reshape(t, {t.dim(0), t.dim(1), heads, t.dim(2) / heads});
  };
  const Tensor xs = bshd(x), dys = bshd(dy);
  const int64_t head = xs.dim(3);
  const int64_t r = g.attr_int("rotary_embedding_dim") == 0 ? head : g.attr_int("rotary_embedding_dim");
  const auto pair = [&](const Tensor& t, int which) {
    if (g.attr_int("interleaved") != 0) return slice(t, 3, which, r, 2);
    return slice(t, 3, which * (r / 2), (which + 1) * (r / 2));
  };
  const Tensor x1 = pair(xs, 0), x2 = pair(xs, 1), d1 = pair(dys, 0), d2 = pair(dys, 1);
  // Per token [B, S, R/2], summed over heads.
  const Tensor dcos = sum(d1 * x1 + d2 * x2, {2});
  const Tensor dsin = sum(d2 * x1 - d1 * x2, {2});
  const auto to_cache = [&](const Tensor& d, const Tensor& cache) {
    if (!with_positions) return d;
    // Scatter-add each token's gradient into the cache row its position names.
    const Tensor flat = reshape(d, {d.dim(0) * d.dim(1), d.dim(2)});
    const Tensor pos = reshape(g.input(3), {d.dim(0) * d.dim(1)});
    Attributes attrs;
    attrs.set("reduction", std::string("add"));
    const Tensor idx = unsqueeze(pos, {1});
    return run_op1("ScatterND", {zeros_like(cache), idx, flat}, attrs);
  };
  if (g.needs_input_grad(1)) g.set_input_grad(1, to_cache(dcos, cos_cache));
  if (g.needs_input_grad(2)) g.set_input_grad(2, to_cache(dsin, sin_cache));
}

}  // namespace

void register_attention_ops(OpRegistry& registry) {
  // Opset 24 adds nonpad_kv_seqlen and pads short masks; kiln implements opset 23's form only.
  registry.add(OpDef("Attention")
                   .opsets(23, 23)
                   .inputs(3, 6)
                   .outputs(1, 4)
                   .attr("is_causal", AttrType::kInt, int_attr(0))
                   .optional_attr("kv_num_heads", AttrType::kInt)
                   .optional_attr("q_num_heads", AttrType::kInt)
                   .attr("qk_matmul_output_mode", AttrType::kInt, int_attr(0))
                   .optional_attr("scale", AttrType::kFloat)
                   .attr("softcap", AttrType::kFloat, float_attr(0.f))
                   .optional_attr("softmax_precision", AttrType::kInt)
                   .infer(infer_attention)
                   .grad(grad_attention));
  // ONNX has one version (23) up to opset 28.
  registry.add(OpDef("RotaryEmbedding")
                   .opsets(23, 28)
                   .inputs(3, 4)
                   .attr("interleaved", AttrType::kInt, int_attr(0))
                   .optional_attr("num_heads", AttrType::kInt)
                   .attr("rotary_embedding_dim", AttrType::kInt, int_attr(0))
                   .infer(infer_rotary_embedding)
                   .grad(grad_rotary_embedding));
}

}  // namespace kiln::ops

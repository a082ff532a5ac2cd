// Attention (opset 23) and RotaryEmbedding as plain C++ loops (f32 and f64), with dot products,
// softmax and weighted sums accumulated in double. See runtime/ops/attention.cpp for the
// semantics; shapes were checked by inference, and prepare() checks them again for the kernel.
//
// Attention runs one (batch, query head) pair per task: for each query row it computes the
// scores against every key (past keys first; keys beyond the causal frontier are skipped unless
// qk_matmul_output wants their scores), applies softcap and the additive bias (mask and
// causal rule), takes the softmax (a row whose bias is all -inf gives zeros) and the weighted
// sum of the values. present_key/present_value are the concatenated caches; qk_matmul_output
// is the score row at the stage qk_matmul_output_mode names.

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernel_families.h"
#include "plain_util.h"

namespace kiln::cpu {
namespace {

bool wanted(const NodeView& v, size_t i) {
  return i < v.num_outputs() && v.output_dtype(i) != KILN_DTYPE_UNDEFINED;
}

// ---- Attention

struct AttentionGeometry {
  bool three_d = false;
  int64_t b = 0, hq = 0, hkv = 0, sq = 0, skv = 0, d = 0, dv = 0, past = 0, total = 0;
  bool has_mask = false, bool_mask = false, has_past = false, causal = false;
  int64_t mask_stride[4] = {0, 0, 0, 0};  // element strides over [B, Hq, Sq, T]; 0 broadcasts
  double scale = 1, softcap = 0;
  int64_t mode = 0;
  bool want_present = false, want_qk = false;
};

AttentionGeometry attention_geometry(const NodeView& v) {
  AttentionGeometry g;
  const Dims q = v.input_shape(0), k = v.input_shape(1), val = v.input_shape(2);
  if (q.size() != k.size() || k.size() != val.size() || (q.size() != 3 && q.size() != 4))
    fail(v, "Q, K and V have ranks " + std::to_string(q.size()) + ", " + std::to_string(k.size()) + " and " +
                std::to_string(val.size()) + "; expected all 3-D or all 4-D");
  g.three_d = q.size() == 3;
  if (g.three_d) {
    g.hq = v.attr_int("q_num_heads", 0);
    g.hkv = v.attr_int("kv_num_heads", 0);
    if (g.hq <= 0 || g.hkv <= 0)
      fail(v, "3-D inputs need positive attributes 'q_num_heads' and 'kv_num_heads'");
    if (q[2] % g.hq != 0 || k[2] % g.hkv != 0 || val[2] % g.hkv != 0)
      fail(v,
           "hidden sizes " + plain::dims_str({q[2], k[2], val[2]}) + " are not multiples of the head counts");
    g.b = q[0];
    g.sq = q[1];
    g.skv = k[1];
    g.d = q[2] / g.hq;
    g.dv = val[2] / g.hkv;
    if (k[2] / g.hkv != g.d) fail(v, "head sizes of Q and K differ");
    if (val[1] != g.skv) fail(v, "sequence lengths of K and V differ");
    if (k[0] != g.b || val[0] != g.b) fail(v, "batch sizes of Q, K and V differ");
  } else {
    g.b = q[0];
    g.hq = q[1];
    g.hkv = k[1];
    g.sq = q[2];
    g.skv = k[2];
    g.d = q[3];
    g.dv = val[3];
    if (k[0] != g.b || val[0] != g.b) fail(v, "batch sizes of Q, K and V differ");
    if (val[1] != g.hkv || val[2] != g.skv || k[3] != g.d)
      fail(v, "K " + plain::dims_str(k) + " and V " + plain::dims_str(val) + " do not match Q " +
                  plain::dims_str(q));
  }
  if (g.hkv <= 0 || g.hq % g.hkv != 0)
    fail(v, std::to_string(g.hq) + " query heads are not a multiple of " + std::to_string(g.hkv) +
                " key/value heads");
  g.has_past = v.num_inputs() > 4 && v.has_input(4);
  if (g.has_past != (v.num_inputs() > 5 && v.has_input(5)))
    fail(v, "past_key and past_value must be given together");
  if (g.has_past) {
    const Dims pk = v.input_shape(4), pv = v.input_shape(5);
    if (pk.size() != 4 || pv.size() != 4 || pk[0] != g.b || pv[0] != g.b || pk[1] != g.hkv ||
        pv[1] != g.hkv || pk[3] != g.d || pv[3] != g.dv || pk[2] != pv[2])
      fail(v, "past_key " + plain::dims_str(pk) + " and past_value " + plain::dims_str(pv) +
                  " do not match K and V");
    g.past = pk[2];
  }
  g.total = g.past + g.skv;
  g.has_mask = v.num_inputs() > 3 && v.has_input(3);
  if (g.has_mask) {
    g.bool_mask = v.input_dtype(3) == KILN_DTYPE_BOOL;
    const Dims m = v.input_shape(3);
    const Dims target{g.b, g.hq, g.sq, g.total};
    if (m.size() > 4) fail(v, "attn_mask has rank " + std::to_string(m.size()) + ", expected at most 4");
    const Dims strides = plain::strides_of(m);
    for (size_t i = 0; i < m.size(); ++i) {
      const size_t t = 4 - m.size() + i;
      if (m[i] != 1 && m[i] != target[t])
        fail(v, "attn_mask has shape " + plain::dims_str(m) + ", which does not broadcast to " +
                    plain::dims_str(target));
      g.mask_stride[t] = m[i] == 1 ? 0 : strides[i];
    }
  }
  g.causal = v.attr_int("is_causal", 0) != 0;
  const kiln_attr* scale = v.attr("scale");
  g.scale =
      scale ? static_cast<double>(v.attr_float("scale", 1.f)) : 1.0 / std::sqrt(static_cast<double>(g.d));
  g.softcap = v.attr_float("softcap", 0.f);
  g.mode = v.attr_int("qk_matmul_output_mode", 0);
  if (g.mode < 0 || g.mode > 3)
    fail(v, "attribute 'qk_matmul_output_mode' is " + std::to_string(g.mode) + ", expected 0..3");
  g.want_present = wanted(v, 1) || wanted(v, 2);
  g.want_qk = wanted(v, 3);
  return g;
}

class AttentionKernel : public Kernel {
 public:
  AttentionKernel(const NodeView& v, AttentionGeometry g)
      : prefix_(plain::node_prefix(v)),
        dtype_(v.input_dtype(0)),
        g_(g),
        present_k_(wanted(v, 1)),
        present_v_(wanted(v, 2)) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, g_.has_past ? 6 : (g_.has_mask ? 4 : 3), n_out, g_.want_qk ? 4 : 1);
    if (dtype_ == KILN_DTYPE_F64)
      run_typed<double>(in, out, n_out);
    else
      run_typed<float>(in, out, n_out);
  }

 private:
  // Row j of the key (or value) cache of batch b, kv head hk: past entries first, then the new ones.
  template <class T>
  const T* cache_row(const T* past, const T* fresh, int64_t width, int64_t b, int64_t hk, int64_t j) const {
    if (j < g_.past) return past + ((b * g_.hkv + hk) * g_.past + j) * width;
    j -= g_.past;
    if (g_.three_d) return fresh + (b * g_.skv + j) * g_.hkv * width + hk * width;
    return fresh + ((b * g_.hkv + hk) * g_.skv + j) * width;
  }

  static constexpr int64_t kBlock = 4;

  template <class T>
  void run_typed(const kiln_tensor* in, kiln_tensor* out, size_t n_out) {
    const T* q = static_cast<const T*>(in[0].data);
    const T* k = static_cast<const T*>(in[1].data);
    const T* v = static_cast<const T*>(in[2].data);
    const void* mask = g_.has_mask ? in[3].data : nullptr;
    const T* pk = g_.has_past ? static_cast<const T*>(in[4].data) : nullptr;
    const T* pv = g_.has_past ? static_cast<const T*>(in[5].data) : nullptr;
    T* y = static_cast<T*>(out[0].data);
    T* qk_out = g_.want_qk && n_out > 3 ? static_cast<T*>(out[3].data) : nullptr;
    const int64_t groups = g_.hq / g_.hkv;
    const double neg_inf = -std::numeric_limits<double>::infinity();
    // Keys past the causal frontier get no weight; their scores are needed only for
    // qk_matmul_output.
    const auto visible_of = [&](int64_t i) {
      return g_.causal && !qk_out ? std::min(g_.total, i + g_.past + 1) : g_.total;
    };
    const int64_t work = g_.b * g_.hq * g_.sq * g_.total * (g_.d + g_.dv) * static_cast<int64_t>(sizeof(T));
    plain::parallel_range(g_.b * g_.hq, work, [&](int64_t begin, int64_t end) {
      std::vector<double> s1(static_cast<size_t>(g_.total)), s2(s1.size()), p(s1.size()),
          acc(static_cast<size_t>(g_.dv)), sb(static_cast<size_t>(kBlock * g_.total)),
          qb(static_cast<size_t>(kBlock * g_.d));
      // The keys of the current kv head transposed, [D, T] in double: the score loop then runs
      // over keys (independent lanes) instead of reducing over features.
      std::vector<double> kt(static_cast<size_t>(g_.d * g_.total));
      int64_t kt_for = -1;  // b * Hkv + hk that kt holds
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / g_.hq, h = bh % g_.hq, hk = h / groups;
        if (kt_for != b * g_.hkv + hk) {
          kt_for = b * g_.hkv + hk;
          for (int64_t j = 0; j < g_.total; ++j) {
            const T* kj = cache_row(pk, k, g_.d, b, hk, j);
            for (int64_t e = 0; e < g_.d; ++e)
              kt[static_cast<size_t>(e * g_.total + j)] = static_cast<double>(kj[e]);
          }
        }
        // Query rows in blocks of kBlock: each pass over a key row serves the whole block.
        for (int64_t i0 = 0; i0 < g_.sq; i0 += kBlock) {
          const int64_t rows = std::min(kBlock, g_.sq - i0);
          const int64_t block_visible = visible_of(i0 + rows - 1);
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = i0 + r;
            const T* qi = g_.three_d ? q + (b * g_.sq + i) * g_.hq * g_.d + h * g_.d
                                     : q + ((b * g_.hq + h) * g_.sq + i) * g_.d;
            for (int64_t e = 0; e < g_.d; ++e)
              qb[static_cast<size_t>(r * g_.d + e)] = static_cast<double>(qi[e]) * g_.scale;
            std::fill(sb.begin() + r * g_.total, sb.begin() + r * g_.total + block_visible, 0.0);
          }
          for (int64_t e = 0; e < g_.d; ++e) {
            const double* __restrict krow = kt.data() + e * g_.total;
            if (rows == kBlock) {
              const double q0 = qb[static_cast<size_t>(e)], q1 = qb[static_cast<size_t>(g_.d + e)],
                           q2 = qb[static_cast<size_t>(2 * g_.d + e)],
                           q3 = qb[static_cast<size_t>(3 * g_.d + e)];
              double* __restrict o0 = sb.data();
              double* __restrict o1 = o0 + g_.total;
              double* __restrict o2 = o1 + g_.total;
              double* __restrict o3 = o2 + g_.total;
              for (int64_t j = 0; j < block_visible; ++j) {
                const double kj = krow[j];
                o0[j] += q0 * kj;
                o1[j] += q1 * kj;
                o2[j] += q2 * kj;
                o3[j] += q3 * kj;
              }
            } else {
              for (int64_t r = 0; r < rows; ++r) {
                const double qe = qb[static_cast<size_t>(r * g_.d + e)];
                double* o = sb.data() + r * g_.total;
                for (int64_t j = 0; j < block_visible; ++j) o[j] += qe * krow[j];
              }
            }
          }
          for (int64_t i = i0; i < i0 + rows; ++i) {
            const double* s0 = sb.data() + (i - i0) * g_.total;
            const int64_t visible = visible_of(i);
            double bias_max = neg_inf, row_max = neg_inf;
            for (int64_t j = 0; j < g_.total; ++j) {
              const auto js = static_cast<size_t>(j);
              if (j >= visible) {
                s2[js] = neg_inf;
                continue;
              }
              s1[js] = g_.softcap != 0 ? g_.softcap * std::tanh(s0[js] / g_.softcap) : s0[js];
              double bias = 0;
              if (mask) {
                const int64_t at = b * g_.mask_stride[0] + h * g_.mask_stride[1] + i * g_.mask_stride[2] +
                                   j * g_.mask_stride[3];
                if (g_.bool_mask)
                  bias = static_cast<const uint8_t*>(mask)[at] ? 0.0 : neg_inf;
                else
                  bias = static_cast<double>(static_cast<const T*>(mask)[at]);
              }
              if (g_.causal && j > i + g_.past) bias += neg_inf;
              bias_max = std::max(bias_max, bias);
              s2[js] = s1[js] + bias;
              row_max = std::max(row_max, s2[js]);
            }
            // A row whose bias is -inf everywhere (or that has no keys) attends nothing: zeros.
            const bool dead = bias_max == neg_inf;
            double total = 0;
            for (size_t j = 0; j < p.size(); ++j) {
              p[j] = dead || static_cast<int64_t>(j) >= visible ? 0.0 : std::exp(s2[j] - row_max);
              total += p[j];
            }
            if (!dead)
              for (double& pj : p) pj /= total;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t j = 0; j < visible; ++j) {
              const double pj = p[static_cast<size_t>(j)];
              if (pj == 0) continue;
              const T* vj = cache_row(pv, v, g_.dv, b, hk, j);
              double* a = acc.data();
              for (int64_t e = 0; e < g_.dv; ++e) a[e] += pj * static_cast<double>(vj[e]);
            }
            T* yi = g_.three_d ? y + (b * g_.sq + i) * g_.hq * g_.dv + h * g_.dv
                               : y + ((b * g_.hq + h) * g_.sq + i) * g_.dv;
            for (int64_t e = 0; e < g_.dv; ++e) yi[e] = static_cast<T>(acc[static_cast<size_t>(e)]);
            if (qk_out) {
              const double* src = g_.mode == 0   ? s0
                                  : g_.mode == 1 ? s1.data()
                                  : g_.mode == 2 ? s2.data()
                                                 : p.data();
              T* row = qk_out + ((b * g_.hq + h) * g_.sq + i) * g_.total;
              for (int64_t j = 0; j < g_.total; ++j) row[j] = static_cast<T>(src[j]);
            }
          }
        }
      }
    });
    if (present_k_ && n_out > 1) write_present(static_cast<T*>(out[1].data), pk, k, g_.d);
    if (present_v_ && n_out > 2) write_present(static_cast<T*>(out[2].data), pv, v, g_.dv);
  }

  template <class T>
  void write_present(T* dst, const T* past, const T* fresh, int64_t width) const {
    for (int64_t b = 0; b < g_.b; ++b)
      for (int64_t hk = 0; hk < g_.hkv; ++hk)
        for (int64_t j = 0; j < g_.total; ++j) {
          const T* src = cache_row(past, fresh, width, b, hk, j);
          std::copy(src, src + width, dst + ((b * g_.hkv + hk) * g_.total + j) * width);
        }
  }

  std::string prefix_;
  int32_t dtype_;
  AttentionGeometry g_;
  bool present_k_, present_v_;
};

std::string supports_attention(const NodeView& v) {
  const int32_t dt = v.input_dtype(0);
  if (dt != KILN_DTYPE_F32 && dt != KILN_DTYPE_F64)
    return std::string("Q dtype ") + dtype_name(dt) + " not supported";
  for (size_t i : {size_t{1}, size_t{2}, size_t{4}, size_t{5}})
    if (i < v.num_inputs() && v.has_input(i) && v.input_dtype(i) != dt)
      return "Q, K, V and the caches must share a dtype";
  if (v.num_inputs() > 3 && v.has_input(3) && v.input_dtype(3) != dt && v.input_dtype(3) != KILN_DTYPE_BOOL)
    return std::string("attn_mask dtype ") + dtype_name(v.input_dtype(3)) + " not supported";
  for (size_t i = 0; i < v.num_outputs(); ++i)
    if (wanted(v, i) && v.output_dtype(i) != dt) return "output dtypes must be Q's";
  if (v.attr_float("softcap", 0.f) != 0 && !std::isfinite(v.attr_float("softcap", 0.f)))
    return "softcap is not finite";
  return "";
}

// ---- RotaryEmbedding: X [B, H, S, D] or [B, S, H*D]; caches [P, R/2] with position_ids [B, S]
// or [B, S, R/2] without.
class RotaryKernel : public Kernel {
 public:
  RotaryKernel(const NodeView& v, bool three_d, int64_t b, int64_t h, int64_t s, int64_t d, int64_t rotary,
               bool interleaved, bool positions, int64_t max_position)
      : prefix_(plain::node_prefix(v)),
        dtype_(v.input_dtype(0)),
        three_d_(three_d),
        b_(b),
        h_(h),
        s_(s),
        d_(d),
        rotary_(rotary),
        interleaved_(interleaved),
        positions_(positions),
        max_position_(max_position) {}

  void run(const kiln_tensor* in, size_t n_in, kiln_tensor* out, size_t n_out) override {
    plain::check_arity(prefix_, n_in, positions_ ? 4 : 3, n_out, 1);
    std::vector<int64_t> rows(static_cast<size_t>(b_ * s_));
    for (int64_t t = 0; t < b_ * s_; ++t) {
      int64_t r = t;
      if (positions_) {
        r = static_cast<const int64_t*>(in[3].data)[t];
        if (r < 0 || r >= max_position_)
          throw KernelError(KILN_ERR_INVALID_ARGUMENT, prefix_ + "position_ids holds " + std::to_string(r) +
                                                           " at flat index " + std::to_string(t) +
                                                           ", outside the caches' " +
                                                           std::to_string(max_position_) + " positions");
      }
      rows[static_cast<size_t>(t)] = r;
    }
    if (dtype_ == KILN_DTYPE_F64)
      run_typed<double>(in, out, rows);
    else
      run_typed<float>(in, out, rows);
  }

 private:
  template <class T>
  void run_typed(const kiln_tensor* in, kiln_tensor* out, const std::vector<int64_t>& rows) const {
    const T* x = static_cast<const T*>(in[0].data);
    const T* cos_cache = static_cast<const T*>(in[1].data);
    const T* sin_cache = static_cast<const T*>(in[2].data);
    T* y = static_cast<T*>(out[0].data);
    const int64_t half = rotary_ / 2;
    const int64_t tasks = b_ * h_ * s_;
    plain::parallel_range(
        tasks, tasks * d_ * static_cast<int64_t>(sizeof(T)) * 2, [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            // t enumerates (b, h, s).
            const int64_t b = t / (h_ * s_), h = (t / s_) % h_, s = t % s_;
            const int64_t off = three_d_ ? (b * s_ + s) * h_ * d_ + h * d_ : ((b * h_ + h) * s_ + s) * d_;
            const T* xi = x + off;
            T* yi = y + off;
            const int64_t row = rows[static_cast<size_t>(b * s_ + s)];
            const T* c = cos_cache + row * half;
            const T* sn = sin_cache + row * half;
            for (int64_t i = 0; i < half; ++i) {
              const int64_t i1 = interleaved_ ? 2 * i : i, i2 = interleaved_ ? 2 * i + 1 : i + half;
              const double x1 = static_cast<double>(xi[i1]), x2 = static_cast<double>(xi[i2]);
              const double cv = static_cast<double>(c[i]), sv = static_cast<double>(sn[i]);
              yi[i1] = static_cast<T>(cv * x1 - sv * x2);
              yi[i2] = static_cast<T>(sv * x1 + cv * x2);
            }
            for (int64_t i = rotary_; i < d_; ++i) yi[i] = xi[i];
          }
        });
  }

  std::string prefix_;
  int32_t dtype_;
  bool three_d_;
  int64_t b_, h_, s_, d_, rotary_;
  bool interleaved_, positions_;
  int64_t max_position_;
};

std::string supports_rotary(const NodeView& v) {
  const int32_t dt = v.input_dtype(0);
  if (dt != KILN_DTYPE_F32 && dt != KILN_DTYPE_F64)
    return std::string("X dtype ") + dtype_name(dt) + " not supported";
  if (v.input_dtype(1) != dt || v.input_dtype(2) != dt) return "cos_cache and sin_cache must have X's dtype";
  if (v.num_inputs() > 3 && v.has_input(3) && v.input_dtype(3) != KILN_DTYPE_I64)
    return "position_ids must be int64";
  if (v.output_dtype(0) != dt || v.output_shape(0) != v.input_shape(0)) return "output must match X";
  return "";
}

std::unique_ptr<Kernel> prepare_rotary(const NodeView& v) {
  const Dims x = v.input_shape(0);
  if (x.size() != 3 && x.size() != 4) fail(v, "X has rank " + std::to_string(x.size()) + ", expected 3 or 4");
  const bool three_d = x.size() == 3;
  int64_t b = x[0], h = 0, s = 0, d = 0;
  if (three_d) {
    h = v.attr_int("num_heads", 0);
    if (h <= 0) fail(v, "a 3-D input X needs a positive attribute 'num_heads'");
    if (x[2] % h != 0)
      fail(v, "X has hidden size " + std::to_string(x[2]) + ", which " + std::to_string(h) +
                  " heads do not divide");
    s = x[1];
    d = x[2] / h;
  } else {
    h = x[1];
    s = x[2];
    d = x[3];
  }
  const int64_t rotary =
      v.attr_int("rotary_embedding_dim", 0) == 0 ? d : v.attr_int("rotary_embedding_dim", 0);
  if (rotary > d || rotary % 2 != 0)
    fail(v, "rotary dimension " + std::to_string(rotary) + " must be even and at most the head size " +
                std::to_string(d));
  const bool positions = v.num_inputs() > 3 && v.has_input(3);
  const Dims c = v.input_shape(1), sn = v.input_shape(2);
  if (c != sn)
    fail(v, "cos_cache " + plain::dims_str(c) + " and sin_cache " + plain::dims_str(sn) + " differ in shape");
  int64_t max_position = 0;
  if (positions) {
    if (c.size() != 2 || c[1] != rotary / 2)
      fail(v, "cos_cache has shape " + plain::dims_str(c) + ", expected [max_position, " +
                  std::to_string(rotary / 2) + "]");
    if (v.input_shape(3) != Dims{b, s})
      fail(v, "position_ids has shape " + plain::dims_str(v.input_shape(3)) + ", expected " +
                  plain::dims_str({b, s}));
    max_position = c[0];
  } else if (c != Dims{b, s, rotary / 2}) {
    fail(v,
         "cos_cache has shape " + plain::dims_str(c) + ", expected " + plain::dims_str({b, s, rotary / 2}));
  }
  return std::make_unique<RotaryKernel>(v, three_d, b, h, s, d, rotary, v.attr_int("interleaved", 0) != 0,
                                        positions, max_position);
}

}  // namespace

void register_attention_kernels(KernelTable& table) {
  table.add("Attention", supports_attention, [](const NodeView& v) -> std::unique_ptr<Kernel> {
    return std::make_unique<AttentionKernel>(v, attention_geometry(v));
  });
  table.add("RotaryEmbedding", supports_rotary, prepare_rotary);
}

}  // namespace kiln::cpu

#include "kiln/frontend/tensorboard/histogram.h"

#include <algorithm>
#include <cmath>

#include "kiln/runtime/error.h"

namespace kiln::tensorboard {

const std::vector<double>& default_bucket_edges() {
  static const std::vector<double> edges = [] {
    std::vector<double> positive;
    for (double v = 1e-12; v < 1e20; v *= 1.1) positive.push_back(v);
    std::vector<double> all;
    all.reserve(2 * positive.size() + 1);
    for (auto it = positive.rbegin(); it != positive.rend(); ++it) all.push_back(-*it);
    all.push_back(0.0);
    all.insert(all.end(), positive.begin(), positive.end());
    return all;
  }();
  return edges;
}

Histogram make_histogram(std::span<const double> values) {
  if (values.empty()) raise(ErrorCode::kInvalidArgument, "histogram of no values");
  Histogram h;
  h.min = values[0];
  h.max = values[0];
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v))
      raise(ErrorCode::kInvalidArgument,
            "histogram value {} (element {}) is not finite; TensorBoard histograms take finite values", v, i);
    h.min = std::min(h.min, v);
    h.max = std::max(h.max, v);
    h.sum += v;
    h.sum_squares += v * v;
  }
  h.num = static_cast<double>(values.size());

  // numpy.histogram over the edges: bin i holds edges[i] <= v < edges[i+1], the last bin
  // also v == edges.back(); values outside the edges fall in no bin.
  const auto& edges = default_bucket_edges();
  std::vector<double> counts(edges.size() - 1, 0.0);
  for (double v : values) {
    if (v < edges.front() || v > edges.back()) continue;
    size_t bin = static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
    bin = bin == 0 ? 0 : bin - 1;
    if (bin >= counts.size()) bin = counts.size() - 1;  // v == edges.back()
    counts[bin] += 1;
  }
  size_t first = counts.size(), last = 0;
  for (size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) {
      first = std::min(first, i);
      last = i;
    }
  if (first == counts.size())
    raise(ErrorCode::kInvalidArgument,
          "histogram: every value lies outside TensorBoard's bucket range [{}, {}]", edges.front(),
          edges.back());
  // Like torch's make_histogram: an empty bucket whose limit is the left edge of the first
  // non-empty bin, then each bin up to the last non-empty one by its right edge.
  h.bucket_limit.assign(edges.begin() + static_cast<std::ptrdiff_t>(first),
                        edges.begin() + static_cast<std::ptrdiff_t>(last) + 2);
  h.bucket.push_back(first > 0 ? counts[first - 1] : 0.0);
  h.bucket.insert(h.bucket.end(), counts.begin() + static_cast<std::ptrdiff_t>(first),
                  counts.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  return h;
}

}  // namespace kiln::tensorboard

#pragma once
// TensorBoard histograms: the default bucket edges and the HistogramProto that PyTorch's
// SummaryWriter.add_histogram(bins="tensorflow") writes for the same values.

#include <span>
#include <vector>

namespace kiln::tensorboard {

/// The fields of TensorBoard's HistogramProto. bucket[i] counts the values in
/// (bucket_limit[i-1], bucket_limit[i]]; bucket[0] is an empty bucket whose limit is the left
/// edge of the first non-empty one.
struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit, bucket;
};

/// TensorBoard's default edges: -1e20 ... -1e-12, 0, 1e-12 ... 1e20, growing by a factor 1.1
/// (the v = 1e-12; v *= 1.1 while v < 1e20 sequence, mirrored, with 0 in the middle).
const std::vector<double>& default_bucket_edges();

/// The histogram of values over default_bucket_edges(), trimmed to the non-empty range the way
/// torch.utils.tensorboard's make_histogram does. Throws Error(kInvalidArgument) when values is
/// empty or holds a NaN or an infinity (what TensorFlow's histogram summary also refuses).
Histogram make_histogram(std::span<const double> values);

}  // namespace kiln::tensorboard

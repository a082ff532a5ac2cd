#pragma once
// The one source of random orders in data loading, the same on every platform: std::seed_seq and
// std::mt19937_64 are defined exactly by the standard, and the shuffle below uses nothing else
// (std::shuffle and the std distributions are not, so they differ between standard libraries).

#include <cstdint>
#include <vector>

namespace kiln::data {

/// A random permutation of 0..n-1 that depends only on seed and stream (the DataLoader's epoch).
/// Never fails.
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream);

}  // namespace kiln::data

#pragma once
// Host memory for tensors. Large blocks are kept after free and handed out again for the same
// size: eager training allocates the same activation and gradient shapes every step, and
// returning them to the system each time costs a page fault per 4 KiB on the next step.

#include <cstddef>

namespace kiln {

/// 64-byte aligned memory of at least bytes (never null for bytes 0). Throws
/// Error(kOutOfMemory) when the system has none.
void* host_allocate(size_t bytes);
/// Gives back a block from host_allocate of the same size.
void host_release(void* data, size_t bytes) noexcept;

}  // namespace kiln

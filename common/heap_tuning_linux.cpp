// glibc: allocations up to 4 MiB come from the heap (not a fresh mmap each), and up to 8 MiB free at the heap's top
// is kept rather than trimmed. Fixed values also stop glibc's adaptive threshold, which follows the largest block
// freed so far (up to 32 MiB) and would let one huge body pin its size in the heap. Other C libraries (musl): no-op.
#include <malloc.h>

#include "common/heap_tuning.hpp"

namespace llmux {

void tune_heap_for_bodies() {
#if defined(__GLIBC__)
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

}  // namespace llmux

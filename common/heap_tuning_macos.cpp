// macOS: the system allocator keeps large freed regions in its own caches (and has no mallopt): nothing to tune.
#include "common/heap_tuning.hpp"

namespace llmux {

void tune_heap_for_bodies() {}

}  // namespace llmux

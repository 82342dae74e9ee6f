// How the allocator keeps freed memory. Request bodies of agents (100 KiB to several MiB, every turn) are freed
// after each request; glibc's default hands that memory back to the kernel (heap trim, or munmap above its
// adaptive mmap threshold) and the next body faults every page in again: ~1 ms of CPU per streamed 1 MiB request
// (relay_bench --bodies --stream). tune_heap_for_bodies(), once at start, keeps up to a few MiB for reuse.
// Platform parts: heap_tuning_{linux,macos}.cpp. Never throws; a setting refused stays as it was.
#pragma once

namespace llmux {

void tune_heap_for_bodies();

}  // namespace llmux

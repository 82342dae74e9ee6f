// The daemon's operator new/delete: a per-thread cache of small blocks in front of malloc.
//
// Every relayed request allocates and frees the same few blocks: coroutine frames (Asio recycles only one frame per
// thread, and none above 1 KiB), socket operations, strings. glibc's own per-thread cache stops at 1 KiB and holds 7
// blocks a size, so the larger frames went through malloc's slow path (bins, consolidation) on every request. Here
// blocks up to 4 KiB come back from a free list per 64-byte size class, bounded at 64 KiB a class; anything larger,
// and any block past the bound, is malloc's. Linked into the llmux executable only (not the libraries the tests
// link), plain C++ (macOS too). llmux runs one event-loop thread; a block freed on another thread joins that thread's
// cache, and what a thread caches when it exits stays allocated (bounded by the caps above).
//
// Left out of sanitizer builds (CMakeLists.txt: LLMUX_SANITIZED), whose allocators must see every block; the guard
// below catches a sanitizer asked for in a way CMake did not see.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LLMUX_BLOCK_CACHE_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define LLMUX_BLOCK_CACHE_OFF 1
#endif
#endif

#ifndef LLMUX_BLOCK_CACHE_OFF

namespace {

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 64;  // class c holds blocks of c * 64 bytes, header included: up to 4 KiB
constexpr std::size_t kCacheBytes = 64 * 1024;

struct alignas(16) Header {  // keeps the caller's block 16-byte aligned, as malloc's is
  std::uint32_t cls;         // 0: a block of any size, straight from malloc
};
static_assert(sizeof(Header) == 16);

struct Node {
  Node* next;
};

struct Cache {  // zero-initialized and trivially destructible: usable before and after static constructors
  Node* head[kClasses];
  std::uint32_t count[kClasses];
};

thread_local Cache cache;

void* allocate(std::size_t n) {
  if (n > SIZE_MAX - sizeof(Header)) return nullptr;  // an overflowed new[] size must fail, not wrap
  std::size_t total = n + sizeof(Header);
  std::size_t cls = (total + kGranule - 1) / kGranule;
  if (cls < kClasses) {
    Cache& c = cache;
    if (Node* b = c.head[cls]) {
      c.head[cls] = b->next;
      --c.count[cls];
      auto* h = reinterpret_cast<Header*>(b);
      h->cls = static_cast<std::uint32_t>(cls);
      return h + 1;
    }
    total = cls * kGranule;
  } else {
    cls = 0;
  }
  for (;;) {
    if (void* p = std::malloc(total)) {
      auto* h = static_cast<Header*>(p);
      h->cls = static_cast<std::uint32_t>(cls);
      return h + 1;
    }
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) return nullptr;
    handler();
  }
}

void release(void* p) noexcept {
  if (p == nullptr) return;
  Header* h = static_cast<Header*>(p) - 1;
  const std::size_t cls = h->cls;
  if (cls > 0 && cls < kClasses) {
    Cache& c = cache;
    if ((c.count[cls] + 1) * cls * kGranule <= kCacheBytes) {
      auto* b = reinterpret_cast<Node*>(h);
      b->next = c.head[cls];
      c.head[cls] = b;
      ++c.count[cls];
      return;
    }
  }
  std::free(h);
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
// A new_handler may throw bad_alloc: the nothrow forms turn that into nullptr.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }

#endif  // LLMUX_BLOCK_CACHE_OFF

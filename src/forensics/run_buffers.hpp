// Storage for what a parallel incident scan's runs hand to the joiner (internal to forensics).
// A run of 8 segments yields thousands of commits; growing fresh vectors for them cost most of
// the parallel scan's page faults (a fresh 4 kB page costs 12-15 us on our VMs; bench/RESULTS.md,
// WAL scan run 6). So the large lists live in huge pages (core/huge_buffer.hpp explains why)
// and a merged run's lists are handed to the next run with their memory already faulted in.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/huge_buffer.hpp"

namespace dbmedic::forensics {

// std::allocator, except that blocks of kHugeFrom bytes and more are huge-page mappings
// (core::MapHugePages): they fault 2 MiB at a time instead of 4 kB.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr std::size_t kHugeFrom = std::size_t{1} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugeFrom) return std::allocator<T>().allocate(n);
    void* p = core::MapHugePages(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugeFrom) {
      std::allocator<T>().deallocate(p, n);
    } else {
      core::UnmapHugePages(p, bytes);
    }
  }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

// Cleared vectors waiting for the next run: Take() one (empty, with its capacity, or a new one
// reserving `initial` elements), Give() it back once merged. Thread-safe.
template <typename T>
class SpareVectors {
 public:
  explicit SpareVectors(std::size_t initial) : initial_(initial) {}

  HugeVector<T> Take() {
    {
      std::lock_guard lock(mutex_);
      if (!spare_.empty()) {
        HugeVector<T> v = std::move(spare_.back());
        spare_.pop_back();
        return v;
      }
    }
    HugeVector<T> v;
    v.reserve(initial_);
    return v;
  }
  void Give(HugeVector<T>&& v) {
    v.clear();  // keeps the capacity
    std::lock_guard lock(mutex_);
    spare_.push_back(std::move(v));
  }

 private:
  std::size_t initial_;
  std::mutex mutex_;
  std::vector<HugeVector<T>> spare_;  // guarded by mutex_
};

}  // namespace dbmedic::forensics

// Large scratch memory that is cheap to touch the first time.
//
// On the VMs we measured (bench/RESULTS.md, "WAL archiving and PITR"), the first touch of a fresh
// 4 kB anonymous page costs 12-15 us: a 16 MiB std::string or vector filled once pays 50-60 ms
// of page faults, more than compressing it. An anonymous mapping advised MADV_HUGEPAGE faults in
// 2 MiB pages instead (8 faults for 16 MiB) when transparent huge pages are enabled, and the
// kernel's zeroed pages are not zero-filled a second time by us.
#pragma once

#include <cstddef>
#include <string>

namespace dbmedic::core {

// `size` rounded up to whole 2 MiB pages.
std::size_t RoundedToHugePages(std::size_t size);
// An anonymous mapping of RoundedToHugePages(size) bytes advised MADV_HUGEPAGE, or nullptr when
// mmap fails (errno set). For allocators that own their blocks; release with UnmapHugePages.
void* MapHugePages(std::size_t size);
void UnmapHugePages(void* p, std::size_t size) noexcept;

// Gives `s` a capacity of at least `size` bytes and, when that is 2 MiB or more, advises the
// 2 MiB-aligned part of its storage MADV_HUGEPAGE. For the large buffers that must stay
// std::string (the codec and storage interfaces take one): filled for the first time, they then
// fault in 2 MiB pages instead of 4 kB ones. The bytes before the first 2 MiB boundary (less than
// 2 MiB) still fault in 4 kB pages. Content is kept.
void ReserveWithHugePages(std::string& s, std::size_t size);

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // Reserves `size` bytes (rounded up to 2 MiB). Throws SystemError when the mapping fails.
  explicit HugePageBuffer(std::size_t size);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  // At least `size` bytes; a larger mapping replaces the old one (its content is dropped).
  char* Reserve(std::size_t size);

  char* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }

  // False when the kernel has transparent huge pages switched off ("never"): the advice is then
  // ignored and such a buffer faults in 4 kB pages like any other allocation.
  static bool HugePagesAvailable();

 private:
  void Release() noexcept;

  char* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace dbmedic::core

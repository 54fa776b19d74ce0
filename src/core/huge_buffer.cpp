#include "core/huge_buffer.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace dbmedic::core {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

std::size_t RoundedToHugePages(std::size_t size) {
  return (std::max<std::size_t>(size, 1) + kHugePage - 1) / kHugePage * kHugePage;
}

void* MapHugePages(std::size_t size) {
  const std::size_t rounded = RoundedToHugePages(size);
  // Linux places anonymous mappings of 2 MiB and more on a 2 MiB boundary, so the whole range
  // can be backed by huge pages.
  void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: 4 kB pages still work
  return p;
}

void UnmapHugePages(void* p, std::size_t size) noexcept {
  if (p != nullptr) ::munmap(p, RoundedToHugePages(size));
}

void ReserveWithHugePages(std::string& s, std::size_t size) {
  if (s.capacity() >= size) return;
  if (size < kHugePage) {
    s.reserve(size);
    return;
  }
  // One huge page more, so that `size` bytes past the first boundary fit.
  s.reserve(RoundedToHugePages(size) + kHugePage);
  const auto begin = reinterpret_cast<std::uintptr_t>(s.data());
  const std::uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const std::uintptr_t last = (begin + s.capacity()) & ~(kHugePage - 1);
  if (last > first) {
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advice only
  }
}

HugePageBuffer::HugePageBuffer(std::size_t size) { Reserve(size); }

HugePageBuffer::~HugePageBuffer() { Release(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

char* HugePageBuffer::Reserve(std::size_t size) {
  if (size <= capacity_ && data_ != nullptr) return data_;
  Release();
  void* p = MapHugePages(size);
  if (p == nullptr) {
    throw SystemError(errno, "allocate a buffer of",
                      std::to_string(RoundedToHugePages(size)) + " bytes");
  }
  data_ = static_cast<char*>(p);
  capacity_ = RoundedToHugePages(size);
  return data_;
}

void HugePageBuffer::Release() noexcept {
  UnmapHugePages(data_, capacity_);
  data_ = nullptr;
  capacity_ = 0;
}

bool HugePageBuffer::HugePagesAvailable() {
  static const bool available = [] {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string setting;
    if (!std::getline(in, setting)) return false;
    return setting.find("[never]") == std::string::npos;
  }();
  return available;
}

}  // namespace dbmedic::core

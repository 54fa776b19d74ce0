// Bounds-checked little-endian reading of WAL bytes. Every read of untrusted WAL goes through
// this, so a short or malformed record is an exception with the record's LSN, never a read past
// the end of a buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace dbmedic::pg::wal {

// Loads a little-endian integer at `offset`; the caller has checked bounds.
template <typename T>
inline T LoadAt(const std::byte* p, std::size_t offset) {
  static_assert(std::is_integral_v<T>);
  T v;
  std::memcpy(&v, p + offset, sizeof(T));  // WAL is host-endian; we support little-endian hosts
  return v;
}

class ByteReader {
 public:
  // `what` names the structure for messages ("commit record"); a failed read throws
  // Error(kCorrupt) "<what> is truncated: needs N more bytes at offset O of L" (the caller adds
  // the LSN as context).
  ByteReader(std::span<const std::byte> data, std::string_view what) : data_(data), what_(what) {}

  template <typename T>
  T Read() {
    Need(sizeof(T));
    T v = LoadAt<T>(data_.data(), pos_);
    pos_ += sizeof(T);
    return v;
  }
  std::span<const std::byte> Take(std::size_t n) {
    Need(n);
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  void Skip(std::size_t n) { Take(n); }
  // A NUL-terminated string (two-phase GIDs); throws if no NUL before the end.
  std::string ReadCString();
  // Count fields of variable-length arrays: a negative or impossible count is corruption.
  std::size_t ReadCount(std::size_t element_size);

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  void Need(std::size_t n) const;
  std::span<const std::byte> data_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

}  // namespace dbmedic::pg::wal

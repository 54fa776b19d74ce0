#include "pg/wal_bytes.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::pg::wal {

void ByteReader::Need(std::size_t n) const {
  if (n <= remaining()) return;
  throw Error(ErrorCode::kCorrupt,
              fmt::format("{} is truncated: needs {} bytes at offset {} but only {} remain", what_,
                          n, pos_, remaining()));
}

std::string ByteReader::ReadCString() {
  const auto* begin = reinterpret_cast<const char*>(data_.data() + pos_);
  const void* nul = std::memchr(begin, 0, remaining());
  if (nul == nullptr) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("{} has an unterminated string at offset {}", what_, pos_));
  }
  std::string s(begin, static_cast<const char*>(nul));
  pos_ += s.size() + 1;
  return s;
}

std::size_t ByteReader::ReadCount(std::size_t element_size) {
  auto count = Read<std::int32_t>();
  if (count < 0 || static_cast<std::size_t>(count) > remaining() / element_size) {
    throw Error(ErrorCode::kCorrupt,
                fmt::format("{} has an impossible count {} at offset {} ({} bytes remain)", what_,
                            count, pos_ - 4, remaining()));
  }
  return static_cast<std::size_t>(count);
}

}  // namespace dbmedic::pg::wal

// CRC-32C (Castagnoli), the checksum of every WAL record (PostgreSQL's pg_crc32c.h).
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time), else a
// table-driven slice-by-8 implementation. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dbmedic::pg {

// Continues a CRC over `data`: start with kCrc32cInit, feed pieces in order, finish with
// Crc32cFinish. Matches PostgreSQL's INIT_CRC32C / COMP_CRC32C / FIN_CRC32C.
inline constexpr std::uint32_t kCrc32cInit = 0xFFFFFFFFu;
std::uint32_t Crc32cUpdate(std::uint32_t crc, const void* data, std::size_t len);
inline std::uint32_t Crc32cFinish(std::uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

// The portable implementation, exposed so tests can compare both paths.
std::uint32_t Crc32cUpdateSoftware(std::uint32_t crc, const void* data, std::size_t len);

// Whether the hardware path is in use on this machine.
bool Crc32cUsesHardware();

}  // namespace dbmedic::pg

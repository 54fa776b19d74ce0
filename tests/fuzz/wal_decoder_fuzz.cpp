// libFuzzer target for the WAL decoder: the input is the beginning of a 1 MB WAL segment
// (zero-padded to a whole page when its length is even, left truncated when odd; the segment
// is short either way, so reading past it is the "truncated segment" path). Inputs whose length
// is a multiple of 4 are read without CRC checks so that mutations reach the record parsers.
// Every
// record read is also fed to each record-type decoder and to the incident scanner. The decoder
// must only ever return records, stop, or throw dbmedic::Error: never crash, hang or read out
// of bounds. Built and run by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "forensics/incident_scanner.hpp"
#include "pg/wal_decoders.hpp"
#include "pg/wal_reader.hpp"
#include "pg/wal_source.hpp"

namespace {

constexpr std::uint64_t kSegSize = 1u << 20;

void DecodeAll(const dbmedic::pg::WalRecord& r) {
  using namespace dbmedic::pg;
  try {
    (void)DecodeXact(r);
    (void)DecodeHeapChange(r);
    (void)DecodeHeapTruncate(r);
    (void)DecodeSmgrCreate(r);
    (void)DecodeSmgrTruncate(r);
    (void)DecodeRelmapUpdate(r);
    (void)DecodeDatabaseDrop(r);
  } catch (const dbmedic::Error&) {
  }
}

std::unique_ptr<dbmedic::pg::MemoryWalSource> MakeSource(const std::uint8_t* data,
                                                         std::size_t size) {
  auto source = std::make_unique<dbmedic::pg::MemoryWalSource>(kSegSize);
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  std::vector<std::byte> segment(bytes, bytes + std::min<std::size_t>(size, kSegSize));
  if (size % 2 == 0) segment.resize((segment.size() + 8191) / 8192 * 8192);
  source->Put(1, 1, std::move(segment));
  return source;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto source = MakeSource(data, size);
  dbmedic::pg::WalReaderOptions options;
  options.verify_crc = size % 4 != 0;
  try {
    dbmedic::pg::WalReader reader(*source, options);
    while (const dbmedic::pg::WalRecord* r = reader.Next()) DecodeAll(*r);
  } catch (const dbmedic::Error&) {
  }
  try {
    dbmedic::pg::WalReader reader(*source, options);
    (void)dbmedic::forensics::FindIncidents(reader, nullptr, {});
  } catch (const dbmedic::Error&) {
  }
  return 0;
}

// Writes seed inputs for wal_decoder_fuzz: the first 64 kB of synthetic segments that contain
// each record type the decoders read, records spanning pages and a switch record.
#include <fstream>
#include <iostream>
#include <string>

#include "../unit/waldecoder/wal_builder.hpp"

using dbmedic::testing::WalBuilder;

namespace {

void Save(const WalBuilder& wal, const std::string& path) {
  const auto& seg = wal.segments().begin()->second;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(seg.data()), 65536);  // even: zero-padded when read
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  std::string dir = argv[1];
  WalBuilder a;
  for (int i = 0; i < 20; ++i) a.AddHeapDelete(740, {1663, 5, 16390});
  a.AddCommit(740, 5000000, 5, {741, 742}, {{1663, 5, 16400}, {1663, 5, 16401}});
  Save(a, dir + "/seed-commit");
  WalBuilder b;
  b.AddLarge(20000, 7);
  b.Add(2, 0x10, 7, std::vector<std::byte>(16));  // smgr create
  b.AddSwitch();
  Save(b, dir + "/seed-span");
  WalBuilder c;
  std::vector<std::byte> relmap(12 + 8 + 8 * 3);
  WalBuilder::Put<std::int32_t>(relmap, 8, 8 + 8 * 3);
  WalBuilder::Put<std::int32_t>(relmap, 12, 0x592717);
  WalBuilder::Put<std::int32_t>(relmap, 16, 3);
  c.Add(7, 0x00, 9, relmap);
  std::vector<std::byte> trunc(12 + 8);
  WalBuilder::Put<std::uint32_t>(trunc, 4, 2);
  c.Add(10, 0x30, 9, trunc);
  Save(c, dir + "/seed-relmap-truncate");
  return 0;
}

#include "pg/wal_record.hpp"

#include <array>

#include <fmt/format.h>

#include "core/error.hpp"
#include "pg/wal_bytes.hpp"
#include "pg/wal_format.hpp"

namespace dbmedic::pg {

std::string RelFileNode::ToString() const { return fmt::format("{}/{}/{}", spc, db, rel); }

namespace {

using wal::ByteReader;

[[noreturn]] void Malformed(const WalRecord& record, std::string_view why) {
  throw Error(ErrorCode::kCorrupt,
              fmt::format("malformed WAL record at {}: {}", record.lsn.ToString(), why),
              "the WAL is damaged from this LSN on; records before it are intact");
}

struct BlockLengths {
  std::uint16_t image = 0;
  std::uint16_t data = 0;
};

// Reads the image header of a block (XLogRecordBlockImageHeader [+ compress header]) and checks
// it the way xlogreader.c does.
std::uint16_t ReadImageHeader(ByteReader& in, const WalRecord& record, WalBlockRef& block) {
  auto length = in.Read<std::uint16_t>();
  auto hole_offset = in.Read<std::uint16_t>();
  auto bimg_info = in.Read<std::uint8_t>();
  bool has_hole = (bimg_info & wal::kBkpImageHasHole) != 0;
  bool compressed = (bimg_info & wal::kBkpImageCompressMask) != 0;
  std::uint32_t hole_length = 0;
  if (has_hole && compressed) {
    hole_length = in.Read<std::uint16_t>();
  } else if (has_hole) {
    hole_length = wal::kBlockSize - length;
  }
  if (has_hole && (hole_offset == 0 || hole_length == 0 || length == wal::kBlockSize)) {
    Malformed(record, fmt::format("block {} image has an invalid hole (offset {}, length {})",
                                  block.id, hole_offset, hole_length));
  }
  if (!has_hole && (hole_offset != 0 || (length != wal::kBlockSize && !compressed))) {
    Malformed(record, fmt::format("block {} image length {} without a hole", block.id, length));
  }
  if (compressed && length == wal::kBlockSize) {
    Malformed(record, fmt::format("block {} compressed image has full length", block.id));
  }
  block.has_image = true;
  block.apply_image = (bimg_info & wal::kBkpImageApply) != 0;
  return length;
}

// Parses one block header; returns the lengths of its image and data payloads.
BlockLengths ReadBlockHeader(ByteReader& in, WalRecord& record, std::uint8_t block_id,
                             std::optional<RelFileNode>& last_rnode) {
  WalBlockRef& block = record.blocks.emplace_back();
  block.id = block_id;
  auto fork_flags = in.Read<std::uint8_t>();
  BlockLengths lengths;
  lengths.data = in.Read<std::uint16_t>();
  block.fork = fork_flags & wal::kBkpBlockForkMask;
  block.will_init = (fork_flags & wal::kBkpBlockWillInit) != 0;
  bool has_data = (fork_flags & wal::kBkpBlockHasData) != 0;
  if (has_data != (lengths.data != 0)) {
    Malformed(record, fmt::format("block {} has data flag {} but data length {}", block_id,
                                  has_data, lengths.data));
  }
  if (fork_flags & wal::kBkpBlockHasImage) lengths.image = ReadImageHeader(in, record, block);
  if (fork_flags & wal::kBkpBlockSameRel) {
    if (!last_rnode) {
      Malformed(record, fmt::format("block {} says 'same relation' but none came before",
                                    block_id));
    }
    block.rnode = *last_rnode;
  } else {
    block.rnode.spc = in.Read<std::uint32_t>();
    block.rnode.db = in.Read<std::uint32_t>();
    block.rnode.rel = in.Read<std::uint32_t>();
  }
  block.block = in.Read<std::uint32_t>();
  last_rnode = block.rnode;
  return lengths;
}

}  // namespace

void DecodeRecordBody(std::span<const std::byte> bytes, WalRecord& record) {
  record.blocks.clear();
  record.toplevel_xid.reset();
  record.origin.reset();
  record.main_data = {};
  std::array<BlockLengths, wal::kMaxBlockId + 1> lengths{};
  std::uint32_t main_length = 0;
  std::size_t payload_total = 0;
  ByteReader in(bytes.subspan(wal::kRecordHeaderSize), "record header");
  std::optional<RelFileNode> last_rnode;
  int last_block_id = -1;
  try {
    while (in.remaining() > payload_total) {
      auto block_id = in.Read<std::uint8_t>();
      if (block_id == wal::kBlockIdDataShort) {
        main_length = in.Read<std::uint8_t>();
        payload_total += main_length;
        break;
      }
      if (block_id == wal::kBlockIdDataLong) {
        main_length = in.Read<std::uint32_t>();
        payload_total += main_length;
        break;
      }
      if (block_id == wal::kBlockIdOrigin) {
        record.origin = in.Read<std::uint16_t>();
      } else if (block_id == wal::kBlockIdToplevelXid) {
        record.toplevel_xid = in.Read<std::uint32_t>();
      } else if (block_id <= wal::kMaxBlockId) {
        if (static_cast<int>(block_id) <= last_block_id) {
          Malformed(record, fmt::format("out-of-order block id {}", block_id));
        }
        last_block_id = block_id;
        BlockLengths l = ReadBlockHeader(in, record, block_id, last_rnode);
        lengths[record.blocks.size() - 1] = l;
        payload_total += l.image + l.data;
      } else {
        Malformed(record, fmt::format("invalid block id {}", block_id));
      }
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) throw;
    if (std::string_view(e.what()).starts_with("malformed")) throw;
    Malformed(record, e.what());
  }
  if (in.remaining() != payload_total) {
    Malformed(record, fmt::format("headers announce {} payload bytes but {} remain",
                                  payload_total, in.remaining()));
  }
  for (std::size_t i = 0; i < record.blocks.size(); ++i) {
    record.blocks[i].image = in.Take(lengths[i].image);
    record.blocks[i].data = in.Take(lengths[i].data);
  }
  record.main_data = in.Take(main_length);
}

}  // namespace dbmedic::pg

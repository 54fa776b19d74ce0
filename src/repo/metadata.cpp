#include "repo/metadata.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "repo/codec.hpp"

namespace dbmedic::repo {
namespace {

Error Damaged(std::string_view what, std::string_view why) {
  return Error(ErrorCode::kCorrupt, fmt::format("metadata file '{}' is damaged: {}", what, why),
               "restore it from a copy of the repository, or remove that backup and take a new one");
}

}  // namespace

std::string SealMetadata(const nlohmann::json& content) {
  nlohmann::json doc;
  doc["checksum"] = Sha256Hex(content.dump());
  doc["content"] = content;
  return doc.dump(1) + "\n";
}

nlohmann::json UnsealMetadata(std::string_view text, std::string_view what) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) throw Damaged(what, "not valid JSON");
  if (!doc.contains("checksum") || !doc.contains("content") || !doc["checksum"].is_string()) {
    throw Damaged(what, "no checksum/content fields");
  }
  const std::string expected = doc["checksum"].get<std::string>();
  const std::string actual = Sha256Hex(doc["content"].dump());
  if (expected != actual) {
    throw Damaged(what, fmt::format("checksum {} expected, {} found", expected, actual));
  }
  return std::move(doc["content"]);
}

}  // namespace dbmedic::repo

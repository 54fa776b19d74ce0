// Metadata files of the repository (repo.json, manifest.json) are JSON documents sealed with
// their own checksum: {"checksum": SHA-256 of content.dump(), "content": {...}}. A file whose
// checksum does not match, or that is not JSON at all, is refused rather than half-trusted.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dbmedic::repo {

std::string SealMetadata(const nlohmann::json& content);
// Throws Error(kCorrupt) naming `what` (e.g. the object's location) when the text is not a sealed
// document or the checksum does not match.
nlohmann::json UnsealMetadata(std::string_view text, std::string_view what);

}  // namespace dbmedic::repo

#include "storage/s3_storage.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace dbmedic::storage {
namespace {

// Buffers up to part_size; one PUT on Commit, or a multipart upload once the buffer overflows.
class S3WriteStream : public WriteStream {
 public:
  S3WriteStream(const S3Client& client, std::string key)
      : client_(client), key_(std::move(key)) {}
  ~S3WriteStream() override { Abort(); }

  void Write(std::string_view data) override {
    buffer_.append(data);
    while (buffer_.size() >= client_.settings().part_size + 1) {
      UploadPart(client_.settings().part_size);
    }
  }

  void Commit() override {
    if (upload_id_.empty()) {
      const S3Response r = client_.Send("PUT", key_, {}, buffer_);
      if (r.status != 200) throw client_.ResponseError(r, "write", key_);
      committed_ = true;
      return;
    }
    if (!buffer_.empty()) UploadPart(buffer_.size());
    std::string xml = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < etags_.size(); ++i) {
      xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1,
                         etags_[i]);
    }
    xml += "</CompleteMultipartUpload>";
    const S3Response r = client_.Send("POST", key_, {{"uploadId", upload_id_}}, xml);
    // S3 may answer 200 with an <Error> body when completion fails late.
    if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
      throw client_.ResponseError(r, "complete the multipart upload of", key_);
    }
    committed_ = true;
  }

 private:
  void Begin() {
    const S3Response r = client_.Send("POST", key_, {{"uploads", ""}});
    if (r.status != 200) throw client_.ResponseError(r, "start a multipart upload of", key_);
    upload_id_ = XmlValue(r.body, "UploadId");
    if (upload_id_.empty()) {
      throw Error(ErrorCode::kNetwork,
                  fmt::format("no UploadId in the answer to a multipart upload of '{}'",
                              client_.Describe(key_)));
    }
  }

  void UploadPart(std::size_t size) {
    if (upload_id_.empty()) Begin();
    const std::string number = std::to_string(etags_.size() + 1);
    const S3Response r = client_.Send("PUT", key_, {{"partNumber", number}, {"uploadId", upload_id_}},
                                      std::string_view(buffer_).substr(0, size));
    if (r.status != 200) throw client_.ResponseError(r, "upload part " + number + " of", key_);
    const auto etag = r.headers.find("etag");
    if (etag == r.headers.end()) {
      throw Error(ErrorCode::kNetwork, fmt::format("no ETag for part {} of '{}'", number,
                                                   client_.Describe(key_)));
    }
    etags_.push_back(etag->second);
    buffer_.erase(0, size);
  }

  // Best effort: an upload never completed leaves no object; aborting frees its parts.
  void Abort() noexcept {
    if (committed_ || upload_id_.empty()) return;
    try {
      client_.Send("DELETE", key_, {{"uploadId", upload_id_}});
    } catch (const std::exception& e) {
      spdlog::warn("could not abort the multipart upload of '{}': {}", client_.Describe(key_),
                   e.what());
    }
  }

  const S3Client& client_;
  std::string key_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  bool committed_ = false;
};

}  // namespace

std::string S3Storage::Key(std::string_view path) const {
  const std::string& prefix = client_.settings().prefix;
  if (prefix.empty()) return std::string(path);
  if (path.empty()) return prefix;
  return prefix + "/" + std::string(path);
}

std::string S3Storage::Describe(std::string_view path) const { return client_.Describe(Key(path)); }

std::vector<ObjectInfo> S3Storage::List(std::string_view dir) const {
  std::string list_prefix = Key(dir);
  if (!list_prefix.empty()) list_prefix += '/';
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    std::map<std::string, std::string> query = {{"list-type", "2"}, {"prefix", list_prefix}};
    if (!token.empty()) query["continuation-token"] = token;
    const S3Response r = client_.Send("GET", "", query);
    if (r.status != 200) throw client_.ResponseError(r, "list", list_prefix);
    for (std::size_t at = r.body.find("<Contents>"); at != std::string::npos;
         at = r.body.find("<Contents>", at + 1)) {
      const std::string key = XmlValue(r.body, "Key", at);
      if (key.size() <= list_prefix.size()) continue;
      out.push_back({key.substr(list_prefix.size()),
                     std::stoull("0" + XmlValue(r.body, "Size", at))});
    }
    if (XmlValue(r.body, "IsTruncated") != "true") break;
    token = XmlValue(r.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.path < b.path; });
  return out;
}

bool S3Storage::Exists(std::string_view path) const {
  const S3Response r = client_.Send("HEAD", Key(path));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  throw client_.ResponseError(r, "look up", Key(path));
}

std::unique_ptr<ReadStream> S3Storage::OpenRead(std::string_view path) const {
  S3Response r = client_.Send("GET", Key(path));
  if (r.status == 404 && XmlValue(r.body, "Code") != "NoSuchBucket") {
    throw Error(ErrorCode::kNotFound,
                fmt::format("object '{}' does not exist", Describe(path)));
  }
  if (r.status != 200) throw client_.ResponseError(r, "read", Key(path));
  return std::make_unique<StringReadStream>(std::move(r.body));
}

std::unique_ptr<WriteStream> S3Storage::OpenWrite(std::string_view path, Durability) {
  return std::make_unique<S3WriteStream>(client_, Key(path));
}

void S3Storage::Remove(std::string_view path) {
  const S3Response r = client_.Send("DELETE", Key(path));
  if (r.status != 204 && r.status != 200 && r.status != 404) {
    throw client_.ResponseError(r, "remove", Key(path));
  }
}

void S3Storage::RemoveTree(std::string_view dir) {
  for (const ObjectInfo& object : List(dir)) {
    Remove(dir.empty() ? object.path : std::string(dir) + "/" + object.path);
  }
}

}  // namespace dbmedic::storage

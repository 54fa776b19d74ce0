// Storage on an S3-compatible object store (s3_client.hpp). Objects live under the key prefix
// (repository.path) of the bucket. A write is buffered up to s3.part_size and stored with one
// PUT; larger objects go up as a multipart upload that is completed only by Commit(), so nothing
// is visible under the key before Commit() returns, and an abandoned upload is aborted.
// S3 has no directories: List is a prefix listing; Sync is a no-op (a successful PUT is durable).
//
// Thread safety: as Storage. Errors: kNotFound for a missing object, kNetwork when the endpoint
// cannot be reached after retries, kConfig for rejected credentials, kRepository for a missing
// bucket.
#pragma once

#include <memory>

#include "storage/s3_client.hpp"
#include "storage/storage.hpp"

namespace dbmedic::storage {

class S3Storage : public Storage {
 public:
  explicit S3Storage(S3Settings settings) : client_(std::move(settings)) {}

  std::vector<ObjectInfo> List(std::string_view dir) const override;
  // ListDirectories: the default (from List). A delimiter listing would be cheaper, but the
  // S3 server the tests run (s3rver 3.7) leaves out prefixes whose keys are deeper than one
  // level, so it could not be tested here.
  bool Exists(std::string_view path) const override;
  std::unique_ptr<ReadStream> OpenRead(std::string_view path) const override;
  std::unique_ptr<WriteStream> OpenWrite(std::string_view path,
                                         Durability durability = Durability::kImmediate) override;
  void Sync(std::string_view) override {}
  void Remove(std::string_view path) override;
  void RemoveTree(std::string_view dir) override;
  std::string Describe(std::string_view path) const override;

  const S3Client& client() const { return client_; }
  // Object key of a repository path (prefix + "/" + path).
  std::string Key(std::string_view path) const;

 private:
  S3Client client_;
};

}  // namespace dbmedic::storage

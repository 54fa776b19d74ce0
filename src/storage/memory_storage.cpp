#include "storage/memory_storage.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace dbmedic::storage {
namespace {

class MemoryReadStream : public ReadStream {
 public:
  explicit MemoryReadStream(std::string data) : data_(std::move(data)) {}
  std::size_t Read(char* buffer, std::size_t size) override {
    const std::size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  std::size_t pos_ = 0;
};

class MemoryWriteStream : public WriteStream {
 public:
  MemoryWriteStream(MemoryStorage& owner, std::string path)
      : owner_(owner), path_(std::move(path)) {}
  void Write(std::string_view data) override { data_.append(data); }
  void Commit() override { owner_.Commit(path_, std::move(data_)); }

 private:
  MemoryStorage& owner_;
  std::string path_;
  std::string data_;
};

bool IsBelow(std::string_view path, std::string_view dir) {
  if (dir.empty()) return true;
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

std::string TrimSlash(std::string_view dir) {
  while (!dir.empty() && dir.back() == '/') dir.remove_suffix(1);
  return std::string(dir);
}

}  // namespace

std::vector<ObjectInfo> MemoryStorage::List(std::string_view dir_in) const {
  const std::string dir = TrimSlash(dir_in);
  std::lock_guard lock(mu_);
  std::vector<ObjectInfo> out;
  for (const auto& [path, data] : objects_) {
    if (!IsBelow(path, dir)) continue;
    out.push_back({dir.empty() ? path : path.substr(dir.size() + 1), data.size()});
  }
  return out;
}

bool MemoryStorage::Exists(std::string_view path) const {
  std::lock_guard lock(mu_);
  return objects_.find(path) != objects_.end();
}

std::unique_ptr<ReadStream> MemoryStorage::OpenRead(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end()) {
    throw Error(ErrorCode::kNotFound, fmt::format("unable to open '{}': no such file", Describe(path)));
  }
  return std::make_unique<MemoryReadStream>(it->second);
}

void MemoryStorage::Sync(std::string_view) {}

std::unique_ptr<WriteStream> MemoryStorage::OpenWrite(std::string_view path, Durability) {
  return std::make_unique<MemoryWriteStream>(*this, std::string(path));
}

void MemoryStorage::Remove(std::string_view path) {
  std::lock_guard lock(mu_);
  if (auto it = objects_.find(path); it != objects_.end()) objects_.erase(it);
}

void MemoryStorage::RemoveTree(std::string_view dir_in) {
  const std::string dir = TrimSlash(dir_in);
  std::lock_guard lock(mu_);
  std::erase_if(objects_, [&](const auto& entry) { return IsBelow(entry.first, dir); });
}

namespace {

class MemoryLock : public ObjectLock {
 public:
  MemoryLock(std::mutex& mu, std::set<std::string, std::less<>>& locks, std::string path)
      : mu_(mu), locks_(locks), path_(std::move(path)) {}
  ~MemoryLock() noexcept override {
    std::lock_guard lock(mu_);
    locks_.erase(path_);
  }

 private:
  std::mutex& mu_;
  std::set<std::string, std::less<>>& locks_;  // guarded by mu_
  std::string path_;
};

}  // namespace

std::unique_ptr<ObjectLock> MemoryStorage::TryLock(std::string_view path, std::string_view holder) {
  {
    std::lock_guard lock(mu_);
    if (!locks_.emplace(path).second) return nullptr;
  }
  auto lock = std::make_unique<MemoryLock>(mu_, locks_, std::string(path));
  WriteAtomic(path, holder);
  return lock;
}

std::string MemoryStorage::Describe(std::string_view path) const {
  return fmt::format("memory:{}", path);
}

void MemoryStorage::Put(std::string_view path, std::string data) {
  Commit(std::string(path), std::move(data));
}

void MemoryStorage::Commit(std::string path, std::string data) {
  std::lock_guard lock(mu_);
  objects_[std::move(path)] = std::move(data);
}

}  // namespace dbmedic::storage

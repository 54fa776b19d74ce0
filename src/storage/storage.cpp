#include "storage/storage.hpp"

#include <algorithm>
#include <cstring>

#include <mutex>
#include <set>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "storage/posix_storage.hpp"
#include "storage/s3_storage.hpp"

extern char** environ;

namespace dbmedic::storage {

void Storage::WriteAtomic(std::string_view path, std::string_view data) {
  std::unique_ptr<WriteStream> out = OpenWrite(path);
  out->Write(data);
  out->Commit();
}

std::vector<DirectoryInfo> Storage::ListDirectories(std::string_view dir,
                                                    std::string_view marker) const {
  std::vector<DirectoryInfo> out;
  for (const ObjectInfo& object : List(dir)) {
    const std::size_t slash = object.path.find('/');
    if (slash == std::string::npos) continue;
    const std::string_view name = std::string_view(object.path).substr(0, slash);
    if (out.empty() || out.back().name != name) out.push_back({std::string(name)});  // sorted
    if (!marker.empty() && std::string_view(object.path).substr(slash + 1) == marker) {
      out.back().holds_marker = true;
    }
  }
  return out;
}

std::string Storage::ReadAll(std::string_view path) const {
  std::unique_ptr<ReadStream> in = OpenRead(path);
  std::string data;
  char buffer[64 * 1024];
  while (std::size_t n = in->Read(buffer, sizeof(buffer))) data.append(buffer, n);
  return data;
}

namespace {

// Locks taken through the default TryLock, keyed by Describe(path): process-wide, because two
// Storage objects may name the same repository (same Describe text).
std::mutex held_mu;
std::set<std::string, std::less<>> held;  // guarded by held_mu

class InProcessLock : public ObjectLock {
 public:
  explicit InProcessLock(std::string key) : key_(std::move(key)) {}
  ~InProcessLock() noexcept override {
    std::lock_guard lock(held_mu);
    held.erase(key_);
  }

 private:
  std::string key_;
};

}  // namespace

std::unique_ptr<ObjectLock> Storage::TryLock(std::string_view path, std::string_view holder) {
  std::string key = Describe(path);
  {
    std::lock_guard lock(held_mu);
    if (!held.insert(key).second) return nullptr;
  }
  auto lock = std::make_unique<InProcessLock>(std::move(key));
  WriteAtomic(path, holder);
  return lock;
}

std::unique_ptr<Storage> OpenStorage(const core::Config& config) {
  const std::string type = config.Has("repository.type") ? config.String("repository.type")
                                                         : std::string("posix");
  if (type == "s3") {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string_view entry(*e);
      if (entry.starts_with("AWS_")) {
        const std::size_t eq = entry.find('=');
        if (eq != std::string_view::npos) {
          env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
        }
      }
    }
    return std::make_unique<S3Storage>(S3SettingsFromConfig(config, env));
  }
  if (type != "posix") {
    throw Error(ErrorCode::kConfig, fmt::format("unknown repository type '{}'", type),
                "set repository.type to one of: posix, s3");
  }
  return std::make_unique<PosixStorage>(config.Path("repository.path"));
}

std::size_t StringReadStream::Read(char* buffer, std::size_t size) {
  const std::size_t n = std::min(size, data_.size() - offset_);
  std::memcpy(buffer, data_.data() + offset_, n);
  offset_ += n;
  return n;
}

}  // namespace dbmedic::storage

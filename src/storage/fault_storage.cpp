#include "storage/fault_storage.hpp"

#include <cerrno>

#include "core/error.hpp"

namespace dbmedic::storage {
namespace {

class FaultWriteStream : public WriteStream {
 public:
  FaultWriteStream(FaultStorage& owner, std::unique_ptr<WriteStream> inner, std::string name)
      : owner_(owner), inner_(std::move(inner)), name_(std::move(name)) {}
  void Write(std::string_view data) override {
    if (owner_.NextWriteFails()) throw SystemError(ENOSPC, "write", name_);
    inner_->Write(data);
  }
  void Commit() override {
    if (owner_.NextCommitFails()) throw SystemError(EIO, "commit", name_);
    inner_->Commit();
  }

 private:
  FaultStorage& owner_;
  std::unique_ptr<WriteStream> inner_;
  std::string name_;
};

}  // namespace

std::unique_ptr<WriteStream> FaultStorage::OpenWrite(std::string_view path, Durability durability) {
  if (!plan_.fail_open_write_containing.empty() &&
      path.find(plan_.fail_open_write_containing) != path.npos) {
    throw SystemError(ENOSPC, "create", Describe(path));
  }
  return std::make_unique<FaultWriteStream>(*this, inner_.OpenWrite(path, durability), Describe(path));
}

}  // namespace dbmedic::storage

// Reference-counted pool of strings, so that a long history of samples repeating the same few
// values (database, user, wait event, query text) holds each value once. An entry lives while
// something holds it: the pool is bounded by what its users keep, not by how many values passed.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace dbmedic::diagnose {

class StringPool {
 public:
  StringPool() = default;
  StringPool(const StringPool&) = delete;  // holders point into it
  StringPool& operator=(const StringPool&) = delete;
  StringPool(StringPool&&) = default;  // nodes move along: pointers stay valid
  StringPool& operator=(StringPool&&) = default;

  // The pooled copy of `value` (stable until released as often as acquired).
  const std::string* Acquire(std::string_view value);
  // One holder of `value` (a pointer from Acquire) is done with it.
  void Release(const std::string* value);

  std::size_t size() const { return refs_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> refs_;
};

}  // namespace dbmedic::diagnose

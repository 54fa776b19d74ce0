#include "diagnose/string_pool.hpp"

namespace dbmedic::diagnose {

const std::string* StringPool::Acquire(std::string_view value) {
  auto it = refs_.find(value);
  if (it == refs_.end()) it = refs_.emplace(std::string(value), 0).first;
  ++it->second;
  return &it->first;
}

void StringPool::Release(const std::string* value) {
  auto it = refs_.find(std::string_view(*value));
  if (it == refs_.end()) return;
  if (--it->second == 0) refs_.erase(it);
}

}  // namespace dbmedic::diagnose

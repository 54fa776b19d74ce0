// Small assertion helpers shared by the backup tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace dbmedic::testing {

// Runs `fn`, returns the dbmedic::Error it throws (a test failure if it throws none).
template <typename Fn>
Error CatchError(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a dbmedic::Error";
  return Error(ErrorCode::kInternal, "no error thrown");
}

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace dbmedic::testing

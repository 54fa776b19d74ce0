// core::SharedLibrary: the lazily opened libraries (libpq, libcurl) behind the forwarders in
// src/pg/libpq_loader.cpp and src/storage/curl_loader.cpp.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/shared_library.hpp"

namespace dbmedic {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(SharedLibraryTest, MissingLibraryNamesItAndThePackageToInstall) {
  core::SharedLibrary library("libdbmedic-no-such-library.so.7", "testing the loader",
                              core::SharedLibrary::InstallHint("dbmedic-test-package"));
  try {
    library.Symbol("anything");
    FAIL() << "opening a library that does not exist succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_TRUE(Contains(e.what(), "cannot load libdbmedic-no-such-library.so.7")) << e.what();
    EXPECT_TRUE(Contains(e.what(), "needed for testing the loader")) << e.what();
    EXPECT_TRUE(Contains(e.hint(), "apt-get install dbmedic-test-package")) << e.hint();
  }
}

TEST(SharedLibraryTest, MissingLibraryFailsAgainOnTheNextCall) {
  core::SharedLibrary library("libdbmedic-no-such-library.so.7", "testing the loader", "pkg");
  EXPECT_THROW(library.Symbol("a"), Error);
  EXPECT_THROW(library.Symbol("b"), Error);
}

TEST(SharedLibraryTest, MissingSymbolIsNamed) {
  core::SharedLibrary library("libz.so.1", "testing the loader",
                              core::SharedLibrary::InstallHint("zlib1g"));
  try {
    library.Symbol("dbmedic_no_such_symbol");
    FAIL() << "looking up a symbol that does not exist succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_TRUE(Contains(e.what(), "libz.so.1 has no symbol dbmedic_no_such_symbol")) << e.what();
    EXPECT_TRUE(Contains(e.hint(), "zlib1g")) << e.hint();
  }
}

TEST(SharedLibraryTest, ResolvesARealFunction) {
  core::SharedLibrary library("libz.so.1", "testing the loader",
                              core::SharedLibrary::InstallHint("zlib1g"));
  auto zlib_version = library.Function<const char* (*)()>("zlibVersion");
  ASSERT_NE(zlib_version, nullptr);
  EXPECT_EQ(std::string(zlib_version()).substr(0, 2), "1.");
}

}  // namespace
}  // namespace dbmedic

// pg::LocalSocketFile: which unix socket libpq would try, so that a best-effort caller can see
// that no server listens there without loading libpq.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "pg/connection.hpp"

namespace dbmedic::pg {
namespace {

// Sets (or, with nullopt, unsets) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class LocalSocketFileTest : public ::testing::Test {
 protected:
  ScopedEnv host_{"PGHOST", std::nullopt};
  ScopedEnv hostaddr_{"PGHOSTADDR", std::nullopt};
  ScopedEnv service_{"PGSERVICE", std::nullopt};
  ScopedEnv service_file_{"PGSERVICEFILE", std::nullopt};
};

TEST_F(LocalSocketFileTest, ADirectoryHostIsItsSocketFile) {
  EXPECT_EQ(LocalSocketFile("/tmp/pg sock", 5433), "/tmp/pg sock/.s.PGSQL.5433");
}

TEST_F(LocalSocketFileTest, NoHostIsLibpqsDefaultDirectory) {
  EXPECT_EQ(LocalSocketFile("", 5432), "/var/run/postgresql/.s.PGSQL.5432");
}

TEST_F(LocalSocketFileTest, NoHostFollowsPgHost) {
  ScopedEnv env("PGHOST", "/srv/run");
  EXPECT_EQ(LocalSocketFile("", 6000), "/srv/run/.s.PGSQL.6000");
}

TEST_F(LocalSocketFileTest, ATcpHostIsNotASocket) {
  EXPECT_EQ(LocalSocketFile("db.example.com", 5432), std::nullopt);
  EXPECT_EQ(LocalSocketFile("127.0.0.1", 5432), std::nullopt);
  ScopedEnv env("PGHOST", "db.example.com");
  EXPECT_EQ(LocalSocketFile("", 5432), std::nullopt);
}

TEST_F(LocalSocketFileTest, SeveralHostsAreLeftToLibpq) {
  EXPECT_EQ(LocalSocketFile("/tmp/a,/tmp/b", 5432), std::nullopt);
}

TEST_F(LocalSocketFileTest, HostAddressOrServiceInTheEnvironmentAreLeftToLibpq) {
  {
    ScopedEnv env("PGHOSTADDR", "10.0.0.1");
    EXPECT_EQ(LocalSocketFile("/tmp", 5432), std::nullopt);
  }
  ScopedEnv env("PGSERVICE", "prod");
  EXPECT_EQ(LocalSocketFile("", 5432), std::nullopt);
}

}  // namespace
}  // namespace dbmedic::pg

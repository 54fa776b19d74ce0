#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "monitor/agent.hpp"
#include "monitor/target.hpp"

namespace dbmedic::monitor {
namespace {

class TargetTest : public ::testing::Test {
 protected:
  core::Config Load(const std::string& text) {
    auto file = dir_.path() / "dbmedic.toml";
    core::AtomicWriteFile(file, text);
    return core::Config::Load(file, {}, {});
  }
  core::TempDir dir_{"monitor-target"};
};

TEST_F(TargetTest, WithoutSectionsTheClusterKeysMakeOneTarget) {
  auto targets = LoadTargets(Load("[cluster]\nname = \"prod\"\nhost = \"/run/pg\"\nport = 5433\n"
                                  "data_dir = \"/srv/pg\"\n"));
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].name, "prod");
  EXPECT_NE(targets[0].conninfo.find("port=5433"), std::string::npos) << targets[0].conninfo;
  EXPECT_NE(targets[0].conninfo.find("/run/pg"), std::string::npos) << targets[0].conninfo;
  EXPECT_EQ(targets[0].data_dir, std::filesystem::path("/srv/pg"));
}

TEST_F(TargetTest, SectionsListSeveralTargets) {
  auto targets = LoadTargets(Load(R"(
[[monitor_target]]
name = "primary"
conninfo = "host=/tmp port=5432 dbname=postgres"
data_dir = "pg/data"
[[monitor_target]]
name = "standby"
host = "127.0.0.1"
port = 5433
)"));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].conninfo, "host=/tmp port=5432 dbname=postgres");
  EXPECT_EQ(targets[0].data_dir, dir_.path() / "pg/data");
  EXPECT_NE(targets[1].conninfo.find("port=5433"), std::string::npos);
  EXPECT_FALSE(targets[1].data_dir);
}

TEST_F(TargetTest, DuplicateNamesAreRejected) {
  try {
    LoadTargets(Load("[[monitor_target]]\nname = \"a\"\n[[monitor_target]]\nname = \"a\"\n"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "[[monitor_target]] #2 ('a'): key 'name' 'a' is used by another "
                           "[[monitor_target]]; names must be unique");
  }
}

TEST_F(TargetTest, ConninfoAndHostCannotBeMixed) {
  try {
    LoadTargets(Load("[[monitor_target]]\nname = \"a\"\nconninfo = \"port=1\"\nport = 2\n"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[[monitor_target]] #1 ('a'): key 'conninfo' cannot be combined with "
                           "host/port/user/dbname; use one or the other");
  }
}

TEST_F(TargetTest, UnknownKeyIsRejected) {
  try {
    LoadTargets(Load("[[monitor_target]]\nname = \"a\"\nprot = 2\n"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[[monitor_target]] #1 ('a'): key 'prot' is not known; known keys: "
                           "conninfo, data_dir, dbname, host, name, port, user");
  }
}

TEST_F(TargetTest, ConnectOptionsAreAddedToBothConninfoForms) {
  EXPECT_EQ(WithConnectOptions("host=/tmp port=5432", 5),
            "host=/tmp port=5432 connect_timeout=5 application_name=dbmedic-monitor");
  EXPECT_EQ(WithConnectOptions("postgresql://u@h/db", 5),
            "postgresql://u@h/db?connect_timeout=5&application_name=dbmedic-monitor");
  EXPECT_EQ(WithConnectOptions("postgresql://u@h/db?sslmode=disable", 5),
            "postgresql://u@h/db?sslmode=disable&connect_timeout=5&"
            "application_name=dbmedic-monitor");
}

TEST_F(TargetTest, AgentSettingsComeFromTheMonitorOptions) {
  auto s = LoadAgentSettings(Load("[monitor]\nport = 9700\nhistory_path = \"h.db\"\n"
                                  "pg_interval = \"2s\"\n"));
  EXPECT_EQ(s.port, 9700);
  EXPECT_EQ(s.history_path, dir_.path() / "h.db");
  EXPECT_EQ(s.pg_interval, std::chrono::seconds(2));
  EXPECT_EQ(s.listen_address, "127.0.0.1");
}

TEST_F(TargetTest, BasicAuthUserWithoutPasswordIsRejected) {
  try {
    LoadAgentSettings(Load("[monitor]\nbasic_auth_user = \"admin\"\n"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(),
                 "monitor.basic_auth_user is set but monitor.basic_auth_password is empty");
  }
}

TEST_F(TargetTest, LsnTimelineWindowUnderAMinuteIsRejected) {
  try {
    LoadAgentSettings(Load("[monitor]\nlsn_timeline_window = \"30s\"\n"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "monitor.lsn_timeline_window is shorter than a minute");
  }
}

TEST_F(TargetTest, LsnTimelineWindowIsRead) {
  auto s = LoadAgentSettings(Load("[monitor]\nlsn_timeline_window = \"2h\"\n"));
  EXPECT_EQ(s.lsn_timeline_window, std::chrono::hours(2));
}

}  // namespace
}  // namespace dbmedic::monitor

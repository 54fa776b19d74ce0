// What `restore` appends to postgresql.auto.conf: recovery settings, then extra server settings.
#include <gtest/gtest.h>

#include "core/fs.hpp"
#include "restore/pitr_restore.hpp"

namespace dbmedic::restore {
namespace {

TEST(RecoverySettingsTest, ExtraSettingsComeLastAndQuoted) {
  core::TempDir dir("recovery-settings");
  core::AtomicWriteFile(dir.path() / "postgresql.auto.conf", "work_mem = '4MB'\n");
  RecoverySettings settings;
  settings.target.kind = TargetKind::kEnd;
  settings.restore_command = "dbmedic wal get %f \"%p\"";
  settings.extra_settings = {{"shared_buffers", "1024MB"}, {"fsync", "off"},
                             {"search_path", "it's"}};
  WriteRecoverySettings(dir.path(), settings, "");
  const std::string conf = core::ReadFile(dir.path() / "postgresql.auto.conf");
  EXPECT_EQ(conf.find("work_mem = '4MB'\n"), 0u) << conf;  // what was there is kept, first
  const auto restore_command = conf.find("restore_command = ");
  const auto buffers = conf.find("shared_buffers = '1024MB'\n");
  ASSERT_NE(restore_command, std::string::npos) << conf;
  ASSERT_NE(buffers, std::string::npos) << conf;
  EXPECT_LT(restore_command, buffers);  // later lines win in postgresql.auto.conf
  EXPECT_NE(conf.find("fsync = 'off'\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("search_path = 'it''s'\n"), std::string::npos) << conf;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "recovery.signal"));
}

TEST(RecoverySettingsTest, PauseThenPromoteWritesPauseWithHotStandby) {
  core::TempDir dir("recovery-settings");
  RecoverySettings settings;
  settings.target.kind = TargetKind::kTime;
  settings.target.text = "2026-11-29 12:00:00+00";
  settings.target.action = TargetAction::kPromote;
  settings.restore_command = "true";
  settings.pause_then_promote = true;  // the caller starts the server and calls pg_promote()
  WriteRecoverySettings(dir.path(), settings, "");
  const std::string conf = core::ReadFile(dir.path() / "postgresql.auto.conf");
  EXPECT_NE(conf.find("recovery_target_action = 'pause'\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("hot_standby = 'on'\n"), std::string::npos) << conf;

  settings.pause_then_promote = false;  // a restore the user starts: it promotes by itself
  core::TempDir plain("recovery-settings");
  WriteRecoverySettings(plain.path(), settings, "");
  EXPECT_NE(core::ReadFile(plain.path() / "postgresql.auto.conf")
                .find("recovery_target_action = 'promote'\n"),
            std::string::npos);
}

}  // namespace
}  // namespace dbmedic::restore

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

}  // namespace
}  // namespace dbmedic::restore

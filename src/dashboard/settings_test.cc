#include "dashboard/settings.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/test_util.h"

namespace orch {
namespace {

EnvLookup NoEnv() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

class SettingsTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  Home home_{dir_.path()};
};

TEST_F(SettingsTest, AnErrorNamesItsLineAndKeyAsOrchConfigValidateDoes) {
  SettingsFile global = ListSettingsFiles(home_, {}).front();
  EXPECT_EQ(global.target, "global");
  EXPECT_FALSE(global.exists);
  std::vector<SettingsError> errors = CheckSettings(
      home_, global, "engine:\n  max_parallel: 2\nworkflow:\n  max_attempts: -1\n", NoEnv());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, home_.config_path());
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_EQ(errors[0].key, "workflow.max_attempts");
  EXPECT_EQ(errors[0].message, "-1 is out of range 1..100");
  EXPECT_TRUE(CheckSettings(home_, global, "engine:\n  max_parallel: 2\n", NoEnv()).empty());
}

TEST_F(SettingsTest, AProjectFileMayNotSetDaemonWideSections) {
  Project p{.id = 1, .name = "acme/widgets", .path = dir_.Sub("work")};
  std::filesystem::create_directories(p.path);
  std::vector<SettingsFile> files = ListSettingsFiles(home_, {p});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[1].editable);
  EXPECT_FALSE(CheckSettings(home_, files[1], "webhook:\n  port: 1\n", NoEnv()).empty());
  EXPECT_TRUE(CheckSettings(home_, files[1], "workflow:\n  max_attempts: 2\n", NoEnv()).empty());
}

TEST_F(SettingsTest, SavingKeepsThePreviousFileAsBak) {
  std::string path = dir_.Sub("config.yml");
  ASSERT_TRUE(SaveSettingsFile(path, "a: 1\n").ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".bak"));
  ASSERT_TRUE(SaveSettingsFile(path, "a: 2\n").ok());
  EXPECT_EQ(test::ReadFile(path), "a: 2\n");
  EXPECT_EQ(test::ReadFile(path + ".bak"), "a: 1\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(SaveSettingsFile(dir_.Sub("no/such/dir/config.yml"), "x").ok());
}

TEST(SplitConfigErrorsTest, ReadsFilesWithColonsAndMessagesWithoutKeys) {
  std::vector<SettingsError> e = SplitConfigErrors(
      "/w:HEAD:.orch.yml:3: workflow.x: unknown key\nplain trouble\n/c.yml:2: YAML syntax error "
      "here\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].file, "/w:HEAD:.orch.yml");
  EXPECT_EQ(e[0].line, 3);
  EXPECT_EQ(e[0].key, "workflow.x");
  EXPECT_EQ(e[1].line, 0);
  EXPECT_EQ(e[1].message, "plain trouble");
  EXPECT_EQ(e[2].line, 2);
  EXPECT_EQ(e[2].key, "");
  EXPECT_EQ(e[2].message, "YAML syntax error here");
}

}  // namespace
}  // namespace orch

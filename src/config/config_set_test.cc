#include "config/config_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config_loader.h"
#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

// Two projects in real directories, each with or without a .orch.yml, over one global file.
class ConfigSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a", "b"}) std::filesystem::create_directories(dir_.Sub(name));
    a_.id = 1;
    a_.name = "acme/a";
    a_.path = dir_.Sub("a");
    b_.id = 2;
    b_.name = "acme/b";
    b_.path = dir_.Sub("b");
  }

  ConfigSet Make(const std::string& global_yaml) {
    ConfigSet::Options o;
    o.global_sources = {{"config.yml", global_yaml}};
    Result<Config> global = ParseConfig(o.global_sources, env_);
    EXPECT_TRUE(global.ok()) << global.status().message();
    if (global.ok()) o.global = *global;
    o.env = env_;
    o.read_project = [](const Project& p) {
      Result<std::optional<ConfigSource>> f = ReadConfigFileIfPresent(p.path + "/.orch.yml");
      if (f.ok() && *f) (*f)->project = true;
      return f;
    };
    o.lookup = [this](int64_t id) -> Result<Project> {
      if (id == a_.id) return a_;
      if (id == b_.id) return b_;
      return Status::NotFound("project", std::to_string(id));
    };
    o.recheck = std::chrono::milliseconds(0);  // every decision reads the file
    return ConfigSet(std::move(o));
  }

  test::TempDir dir_;
  Project a_, b_;
  EnvLookup env_ = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
};

TEST_F(ConfigSetTest, EachProjectGetsItsOwnFileOverTheGlobalOne) {
  test::WriteFile(b_.path + "/.orch.yml",
                  "workflow:\n  trigger_labels: [ai]\n  sandbox: read-only\n"
                  "router:\n  agents: [codex]\n");
  ConfigSet configs = Make("router:\n  mode: round_robin\n  agents: [claude]\n");
  std::shared_ptr<const Config> a = configs.For(a_);
  std::shared_ptr<const Config> b = configs.ForProject(b_.id);
  EXPECT_EQ(a->workflow.trigger_labels, std::vector<std::string>{"orch"});
  EXPECT_EQ(a->router.agents, std::vector<std::string>{"claude"});
  EXPECT_EQ(a->workflow.sandbox, Sandbox::kWorkspaceWrite);
  EXPECT_EQ(b->workflow.trigger_labels, std::vector<std::string>{"ai"});
  EXPECT_EQ(b->router.agents, std::vector<std::string>{"codex"});
  EXPECT_EQ(b->workflow.sandbox, Sandbox::kReadOnly);
  // The global keys the project does not set stay.
  EXPECT_EQ(b->router.mode, RouterMode::kRoundRobin);
  // An unknown project id gets the global settings.
  EXPECT_EQ(configs.ForProject(99)->router.agents, std::vector<std::string>{"claude"});
}

TEST_F(ConfigSetTest, AnEditedFileIsReadAtTheNextDecision) {
  ConfigSet configs = Make("");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 3);
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: 7\n");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 7);
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: 5\n");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 5);
  std::filesystem::remove(a_.path + "/.orch.yml");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 3);
}

TEST_F(ConfigSetTest, UnchangedTextIsNotParsedAgain) {
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: 7\n");
  ConfigSet configs = Make("");
  std::shared_ptr<const Config> first = configs.For(a_);
  EXPECT_EQ(configs.For(a_).get(), first.get());  // the same parsed object
}

TEST_F(ConfigSetTest, ABrokenFileKeepsThePreviousSettingsUntilItIsFixed) {
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: 7\n");
  ConfigSet configs = Make("");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 7);
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: lots\n");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 7);
  test::WriteFile(a_.path + "/.orch.yml", "workflow:\n  max_attempts: 2\n");
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 2);
  // A project whose file never parsed runs with the global settings.
  test::WriteFile(b_.path + "/.orch.yml", "engine:\n  max_parallel: 9\n");
  EXPECT_EQ(configs.For(b_)->workflow.max_attempts, 3);
}

TEST_F(ConfigSetTest, RecheckLimitsHowOftenTheFileIsRead) {
  ConfigSet::Options o;
  o.env = env_;
  int reads = 0;
  o.read_project = [&reads](const Project&) -> Result<std::optional<ConfigSource>> {
    ++reads;
    return std::optional<ConfigSource>();
  };
  o.recheck = std::chrono::hours(1);
  ConfigSet configs(std::move(o));
  for (int i = 0; i < 5; ++i) (void)configs.For(a_);
  EXPECT_EQ(reads, 1);
}

TEST_F(ConfigSetTest, APlainConfigIsEveryProjectsConfig) {
  Config c;
  c.workflow.max_attempts = 9;
  ConfigSet configs = c;
  EXPECT_EQ(configs.For(a_)->workflow.max_attempts, 9);
  EXPECT_EQ(configs.ForProject(2)->workflow.max_attempts, 9);
  EXPECT_EQ(configs.global().workflow.max_attempts, 9);
}

TEST(ConfigProjectKeys, BreakersAreDaemonWideAndNamedWithFileAndLine) {
  EnvLookup env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  Result<Config> c = ParseConfig(
      {{"/repo/.orch.yml", "router:\n  agents: [codex]\n  breaker_cooldown: 5m\n", true}}, env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/repo/.orch.yml:3: router.breaker_cooldown: only "
                                              "allowed in the global config.yml"));
  // The same key in the global file is fine.
  EXPECT_TRUE(ParseConfig({{"config.yml", "router:\n  breaker_cooldown: 5m\n"}}, env).ok());
}

TEST(ConfigOrigins, ShowSaysWhereEachKeyCameFrom) {
  EnvLookup env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  ConfigOrigins origins;
  Result<Config> c = ParseConfig({{"/home/me/.orch/config.yml",
                                   "engine:\n  max_parallel: 4\n"
                                   "workflow:\n  max_attempts: 5\n"},
                                  {"/repo/.orch.yml", "workflow:\n  max_attempts: 2\n", true}},
                                 env, &origins);
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::string shown = AnnotateOrigins(RenderConfig(*c), origins, "/repo/.orch.yml");
  EXPECT_THAT(shown, HasSubstr("max_parallel: 4  # global /home/me/.orch/config.yml:2"));
  EXPECT_THAT(shown, HasSubstr("max_attempts: 2  # project /repo/.orch.yml:2"));
  EXPECT_THAT(shown, HasSubstr("tick_interval: 10s  # default"));
  // Still YAML that parses back to the same values.
  Result<Config> back = ParseConfig({{"shown", shown}}, env);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->workflow.max_attempts, 2);
  EXPECT_EQ(back->engine.max_parallel, 4);
}

}  // namespace
}  // namespace orch

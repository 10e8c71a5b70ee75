#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "testing/test_util.h"

namespace orch {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  Result<Config> Parse(const std::string& yaml) {
    return ParseConfig({{"config.yml", yaml}}, env_);
  }
  std::string Error(const std::string& yaml) {
    Result<Config> c = Parse(yaml);
    EXPECT_FALSE(c.ok()) << "expected an error for:\n" << yaml;
    if (c.ok()) return "";
    EXPECT_EQ(c.status().code(), StatusCode::kConfig);
    return c.status().message();
  }

  std::map<std::string, std::string> vars_ = {{"SECRET", "s3cret"}, {"EMPTY", ""}};
  EnvLookup env_ = [this](const std::string& name) -> std::optional<std::string> {
    auto it = vars_.find(name);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  };
};

TEST_F(ConfigTest, EmptyFileGivesDocumentedDefaults) {
  Result<Config> c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->webhook.enabled);
  EXPECT_EQ(c->webhook.port, 8080);
  EXPECT_EQ(c->webhook.bind, "127.0.0.1");
  EXPECT_EQ(c->engine.tick_interval, Seconds(10));
  EXPECT_EQ(c->engine.sync_interval, Seconds(120));
  EXPECT_EQ(c->engine.fallback_sync_interval, Seconds(30));
  EXPECT_EQ(c->engine.webhook_health_check_interval, Seconds(60));
  EXPECT_EQ(c->workflow.trigger_labels, std::vector<std::string>{"orch"});
  EXPECT_EQ(c->workflow.max_attempts, 3);
  EXPECT_EQ(c->router.mode, RouterMode::kLlm);
  EXPECT_EQ(c->github.api_url, "https://api.github.com");
  EXPECT_EQ(c->notification_level, NotificationLevel::kImportant);
}

// Every key path in a YAML document, dotted ("engine.tick_interval").
void KeyPaths(const YAML::Node& node, const std::string& prefix, std::set<std::string>* out) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    out->insert(path);
    KeyPaths(kv.second, path, out);
  }
}

TEST_F(ConfigTest, ExampleFileDocumentsEveryKeyWithItsDefault) {
  // config.example.yml must parse, set every key the code reads and no other, and give each
  // the value the code defaults to.
  std::string text = test::ReadFile(std::string(ORCH_SOURCE_DIR) + "/config.example.yml");
  ASSERT_FALSE(text.empty());
  Result<Config> example = ParseConfig({{"config.example.yml", text}}, env_);
  ASSERT_TRUE(example.ok()) << example.status().message();
  Result<Config> defaults = Parse("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(RenderConfig(*example), RenderConfig(*defaults));
  std::set<std::string> documented, read;
  KeyPaths(YAML::Load(text), "", &documented);
  KeyPaths(YAML::Load(RenderConfig(*defaults)), "", &read);
  EXPECT_EQ(documented, read);
}

TEST_F(ConfigTest, FullConfigIsTyped) {
  Result<Config> c = Parse(R"(
webhook: {enabled: false, port: 9000, bind: 0.0.0.0, secret: "${SECRET}"}
engine: {tick_interval: 5s, sync_interval: 2m, stuck_timeout: 1h, max_parallel: 8}
workflow:
  trigger_labels: [orch, ai]
  allowed_authors: [alice]
  timeout_seconds: 900
  sandbox: read-only
router: {mode: round_robin, agents: [claude, kimi], fallback_executor: kimi}
model_map:
  simple: {claude: haiku, kimi: k2}
agents:
  kimi: {command: /usr/local/bin/kimi, args: [--yolo], output_format: text, env: {KIMI_KEY: x}}
jobs:
  - {name: nightly, schedule: "0 3 * * *", title: Nightly check, labels: [chore]}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->webhook.enabled);
  EXPECT_EQ(c->webhook.port, 9000);
  EXPECT_EQ(c->webhook.secret, "s3cret");
  EXPECT_EQ(c->engine.tick_interval, Seconds(5));
  EXPECT_EQ(c->engine.sync_interval, Seconds(120));
  EXPECT_EQ(c->engine.stuck_timeout, Seconds(3600));
  EXPECT_EQ(c->workflow.trigger_labels, (std::vector<std::string>{"orch", "ai"}));
  EXPECT_EQ(c->workflow.timeout, Seconds(900));
  EXPECT_EQ(c->workflow.sandbox, Sandbox::kReadOnly);
  EXPECT_EQ(c->router.mode, RouterMode::kRoundRobin);
  EXPECT_EQ(c->model_map.simple.at("kimi"), "k2");
  ASSERT_EQ(c->agents.count("kimi"), 1u);
  EXPECT_EQ(c->agents.at("kimi").args, std::vector<std::string>{"--yolo"});
  EXPECT_EQ(*c->agents.at("kimi").output_format, OutputFormat::kText);
  ASSERT_EQ(c->jobs.size(), 1u);
  EXPECT_TRUE(c->jobs[0].cron.hours[3]);
}

TEST_F(ConfigTest, SyntaxErrorNamesFileLineAndKey) {
  std::string e = Error("engine:\n  tick_interval: 10\n  sync_interval: [1, 2\n");
  EXPECT_THAT(e, HasSubstr("config.yml:"));
  EXPECT_THAT(e, HasSubstr("engine.sync_interval"));
  EXPECT_THAT(e, HasSubstr("syntax error"));
}

TEST_F(ConfigTest, UnknownKeyIsAnErrorWithASuggestion) {
  std::string e = Error("engine:\n  tick_intervall: 10\n");
  EXPECT_THAT(e, HasSubstr("config.yml:2: engine.tick_intervall: unknown key"));
  EXPECT_THAT(e, HasSubstr("did you mean 'engine.tick_interval'"));
  EXPECT_THAT(Error("colour: blue\n"), HasSubstr("config.yml:1: colour: unknown key"));
}

TEST_F(ConfigTest, WrongTypesAreErrors) {
  EXPECT_THAT(Error("webhook:\n  port: eighty\n"),
              HasSubstr("config.yml:2: webhook.port: expected a whole number"));
  EXPECT_THAT(Error("webhook:\n  enabled: maybe\n"),
              HasSubstr("webhook.enabled: expected true or false"));
  EXPECT_THAT(Error("engine:\n  tick_interval: soon\n"),
              HasSubstr("engine.tick_interval: expected a duration"));
  EXPECT_THAT(Error("workflow:\n  trigger_labels: orch\n"),
              HasSubstr("workflow.trigger_labels: expected a list"));
  EXPECT_THAT(Error("router:\n  mode: random\n"),
              HasSubstr("router.mode: \"random\" is not one of llm, round_robin"));
  EXPECT_THAT(Error("engine: 5\n"), HasSubstr("engine: expected a mapping"));
  EXPECT_THAT(Error("github:\n  token: [a]\n"), HasSubstr("github.token: expected a single value"));
}

TEST_F(ConfigTest, OutOfRangeValuesAreErrors) {
  EXPECT_THAT(Error("webhook:\n  port: 70000\n"),
              HasSubstr("config.yml:2: webhook.port: 70000 is out of range 1..65535"));
  EXPECT_THAT(Error("engine:\n  max_parallel: 0\n"), HasSubstr("engine.max_parallel"));
  EXPECT_THAT(Error("engine:\n  tick_interval: 0\n"), HasSubstr("engine.tick_interval"));
  EXPECT_THAT(Error("workflow:\n  max_attempts: -1\n"), HasSubstr("workflow.max_attempts"));
}

TEST_F(ConfigTest, EveryErrorIsReportedNotJustTheFirst) {
  std::string e = Error("webhook:\n  port: 0\nengine:\n  max_parallel: 999\n");
  EXPECT_THAT(e, HasSubstr("config.yml:2: webhook.port"));
  EXPECT_THAT(e, HasSubstr("config.yml:4: engine.max_parallel"));
}

TEST_F(ConfigTest, EnvironmentVariablesExpandInStringsAndNumbers) {
  vars_["PORT"] = "9999";
  Result<Config> c = Parse(
      "webhook:\n  port: ${PORT}\n  secret: ${SECRET}\n  bind: ${BIND:-127.0.0.2}\n"
      "github:\n  token: ${EMPTY:-fallback}\n  api_url: http://x/$${literal}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->webhook.port, 9999);
  EXPECT_EQ(c->webhook.secret, "s3cret");
  EXPECT_EQ(c->webhook.bind, "127.0.0.2");
  EXPECT_EQ(c->github.token, "fallback");
  EXPECT_EQ(c->github.api_url, "http://x/${literal}");
}

TEST_F(ConfigTest, UnsetVariableWithoutDefaultIsAnError) {
  std::string e = Error("webhook:\n  secret: \"${WEBHOOK_SECRET}\"\n");
  EXPECT_THAT(e, HasSubstr("config.yml:2: webhook.secret: environment variable WEBHOOK_SECRET "
                           "is not set"));
  EXPECT_THAT(Error("webhook:\n  secret: ${OOPS\n"), HasSubstr("unterminated"));
}

TEST_F(ConfigTest, AWhitespaceWebhookSecretIsAnErrorNamingTheKey) {
  // Issue 22: a secret of one space was accepted.
  EXPECT_THAT(Error("webhook:\n  secret: \" \"\n"),
              HasSubstr("config.yml:2: webhook.secret: is only whitespace"));
  EXPECT_THAT(Error("webhook:\n  secret: \"\\t \"\n"), HasSubstr("webhook.secret"));
}

TEST_F(ConfigTest, ProjectFileWinsKeyByKey) {
  Result<Config> c = ParseConfig(
      {{"global.yml",
        "engine: {max_parallel: 2}\nworkflow: {max_attempts: 2, timeout_seconds: 70, "
        "trigger_labels: [a, b]}\nmodel_map: {simple: {claude: haiku, codex: gpt-5.5-mini}}\n"},
       {".orch.yml",
        "workflow: {max_attempts: 5, trigger_labels: [c]}\n"
        "model_map: {simple: {claude: sonnet}}\n",
        /*project=*/true}},
      env_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->workflow.max_attempts, 5);       // project wins
  EXPECT_EQ(c->workflow.timeout, Seconds(70));  // kept from global
  EXPECT_EQ(c->engine.max_parallel, 2);
  EXPECT_EQ(c->workflow.trigger_labels, std::vector<std::string>{"c"});  // lists replace
  EXPECT_EQ(c->model_map.simple.at("claude"), "sonnet");                 // maps merge
  EXPECT_EQ(c->model_map.simple.at("codex"), "gpt-5.5-mini");
}

TEST_F(ConfigTest, ErrorsNameTheFileTheyAreIn) {
  Result<Config> c = ParseConfig({{"global.yml", "engine: {max_parallel: 2}\n"},
                                  {"/repo/.orch.yml", "\n\nworkflow: {max_attempts: x}\n", true}},
                                 env_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/repo/.orch.yml:3: workflow.max_attempts"));
}

TEST_F(ConfigTest, ProjectFileMayNotSetDaemonWideSections) {
  // One daemon serves every project: a project's engine or webhook settings would be ignored,
  // so they are refused instead.
  Result<Config> c = ParseConfig({{"/repo/.orch.yml",
                                   "workflow: {max_attempts: 2}\nengine: {max_parallel: 9}\n"
                                   "webhook: {port: 9000}\njobs: []\n",
                                   true}},
                                 env_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("/repo/.orch.yml:2: engine: only allowed in the global config.yml"));
  EXPECT_THAT(c.status().message(), HasSubstr("/repo/.orch.yml:3: webhook: only allowed"));
  EXPECT_THAT(c.status().message(), HasSubstr("/repo/.orch.yml:4: jobs: only allowed"));
}

TEST_F(ConfigTest, HugeDurationsAreOutOfRangeNotOverflow) {
  EXPECT_THAT(Error("engine:\n  stuck_timeout: 9223372036854775807h\n"),
              HasSubstr("engine.stuck_timeout: \"9223372036854775807h\" is out of range"));
  EXPECT_THAT(Error("engine:\n  stuck_timeout: 8d\n"), HasSubstr("expected a duration"));
}

TEST_F(ConfigTest, UnknownAgentsAreRejectedWhereTheyAreNamed) {
  EXPECT_THAT(Error("router:\n  agent: gpt\n"),
              HasSubstr("config.yml:2: router.agent: unknown agent \"gpt\""));
  EXPECT_THAT(Error("model_map:\n  simple:\n    goose: x\n"),
              HasSubstr("model_map.simple.goose: unknown agent"));
  EXPECT_THAT(Error("runs:\n  roles:\n    coder: claude\n    reviewer: gpt\n"),
              HasSubstr("config.yml:4: runs.roles.reviewer: unknown agent \"gpt\""));
  EXPECT_THAT(Error("agents:\n  goose:\n    args: [run]\n"),
              HasSubstr("agents.goose: command is required"));
}

TEST_F(ConfigTest, ChannelsAndAppNeedTheirCredentials) {
  EXPECT_THAT(Error("channels:\n  telegram:\n    enabled: true\n"),
              HasSubstr("channels.telegram.enabled: telegram needs bot_token and chat_id"));
  EXPECT_THAT(Error("github:\n  app_id: 12\n"), HasSubstr("github.app_id: a GitHub App needs"));
}

TEST_F(ConfigTest, JobsAreCheckedForScheduleAndRequiredKeys) {
  EXPECT_THAT(Error("jobs:\n  - name: a\n    schedule: \"61 * * * *\"\n    title: t\n"),
              HasSubstr("config.yml:3: jobs[0].schedule: minute field \"61\""));
  EXPECT_THAT(Error("jobs:\n  - name: a\n    schedule: \"@daily\"\n"),
              HasSubstr("jobs[0].task.title: required"));
  EXPECT_THAT(Error("jobs:\n  - {name: \"\", schedule: \"@daily\", title: t}\n"),
              HasSubstr("jobs[0].id: required, and must not be empty"));
  EXPECT_THAT(Error("jobs:\n  - {name: a, schedule: \"@daily\", title: t}\n"
                    "  - {id: a, schedule: \"@daily\", title: t}\n"),
              HasSubstr("duplicate job id \"a\""));
  EXPECT_THAT(Error("jobs:\n  - {id: a, name: a, schedule: \"@daily\", title: t}\n"),
              HasSubstr("jobs[0].name: give either id or name"));
  EXPECT_THAT(Error("jobs:\n  - {id: \"a b\", schedule: \"@daily\", title: t}\n"),
              HasSubstr("jobs[0].id: \"a b\": use letters"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", title: t, task: {title: u}}\n"),
              HasSubstr("jobs[0].title: give either title or task.title"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", type: command}\n"),
              HasSubstr("jobs[0].command: required for a command job"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", command: [x], title: t}\n"),
              HasSubstr("jobs[0].task: only for type: task"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", title: t, dir: /tmp}\n"),
              HasSubstr("jobs[0].dir: only for type: command"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", command: [x], dir: rel}\n"),
              HasSubstr("jobs[0].dir: \"rel\": expected an absolute path"));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", task: {title: t, agent: gpt}}\n"),
              HasSubstr("jobs[0].task.agent: unknown agent \"gpt\""));
  EXPECT_THAT(Error("jobs:\n  - {id: a, schedule: \"@daily\", type: cron, title: t}\n"),
              HasSubstr("jobs[0].type"));
}

TEST_F(ConfigTest, JobsTakeTheNewAndTheOlderShape) {
  Result<Config> c = Parse(R"(
jobs:
  - name: legacy
    schedule: "0 9 * * 1"
    title: Update dependencies
    labels: [chore]
  - id: nested
    schedule: "@weekly"
    type: task
    task: {title: Audit, body: Check licences, labels: [audit], agent: codex}
    project: acme/widgets
  - id: backup
    schedule: "30 2 * * *"
    command: [tar, czf, /tmp/b.tgz, .]
    dir: /srv
    timeout: 5m
    enabled: false
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->jobs.size(), 3u);
  EXPECT_EQ(c->jobs[0].id, "legacy");
  EXPECT_EQ(c->jobs[0].type, JobType::kTask);
  EXPECT_EQ(c->jobs[0].task.title, "Update dependencies");
  EXPECT_EQ(c->jobs[0].task.labels, std::vector<std::string>{"chore"});
  EXPECT_EQ(c->jobs[1].task.agent, "codex");
  EXPECT_EQ(c->jobs[1].project, "acme/widgets");
  EXPECT_EQ(c->jobs[2].type, JobType::kCommand);  // inferred from `command`
  EXPECT_EQ(c->jobs[2].command.size(), 4u);
  EXPECT_EQ(c->jobs[2].dir, "/srv");
  EXPECT_EQ(c->jobs[2].timeout, Seconds(300));
  EXPECT_FALSE(c->jobs[2].enabled);
  // What `config show` prints parses back to the same jobs.
  Result<Config> again = Parse(RenderConfig(*c));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(RenderConfig(*again), RenderConfig(*c));
}

TEST_F(ConfigTest, JobsFileAddsToTheConfiguredJobs) {
  ConfigSource jobs{"jobs.yml", "jobs:\n  - {id: b, schedule: \"@daily\", command: [true]}\n"};
  jobs.jobs_file = true;
  Result<Config> c = ParseConfig(
      {{"config.yml", "jobs:\n  - {id: a, schedule: \"@daily\", title: t}\n"}, jobs}, env_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->jobs.size(), 2u);
  EXPECT_EQ(c->jobs[0].id, "a");
  EXPECT_EQ(c->jobs[1].id, "b");

  jobs.text = "jobs:\n  - {id: a, schedule: \"@daily\", command: [true]}\nengine: {}\n";
  c = ParseConfig({{"config.yml", "jobs:\n  - {id: a, schedule: \"@daily\", title: t}\n"}, jobs},
                  env_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("jobs.yml:2: jobs[0].id: duplicate job id \"a\""));
  EXPECT_THAT(c.status().message(), HasSubstr("jobs.yml:3: engine: jobs.yml may hold only"));
}

TEST_F(ConfigTest, RenderMasksSecretsAndParsesBack) {
  Result<Config> c = Parse(
      "webhook: {secret: hunter2}\ngithub: {token: ghp_abc}\n"
      "agents:\n  claude: {env: {ANTHROPIC_API_KEY: sk-1, MODE: fast}}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::string yaml = RenderConfig(*c);
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("ghp_abc")));
  EXPECT_THAT(yaml, ::testing::Not(HasSubstr("sk-1")));
  EXPECT_THAT(yaml, HasSubstr("fast"));
  Result<Config> back = Parse(yaml);
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << yaml;
  EXPECT_EQ(back->webhook.secret, "***");
  EXPECT_EQ(RenderConfig(*back), yaml);
}

TEST_F(ConfigTest, NotificationLevelTakesErrorsOnlyAsErrorsAndChannelsTakeApiUrls) {
  Result<Config> c = Parse(
      "notifications: {level: errors_only}\n"
      "channels:\n  telegram: {api_url: \"http://127.0.0.1:9\"}\n"
      "  discord: {api_url: \"http://127.0.0.1:10/api\"}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->notification_level, NotificationLevel::kErrors);
  EXPECT_STREQ(NotificationLevelName(c->notification_level), "errors");
  EXPECT_EQ(c->telegram.api_url, "http://127.0.0.1:9");
  EXPECT_EQ(c->discord.api_url, "http://127.0.0.1:10/api");
  EXPECT_THAT(Error("channels: {discord: {api_url: discord.com}}\n"),
              HasSubstr("channels.discord.api_url: expected an http:// or https:// URL"));
}

}  // namespace
}  // namespace orch

// The built-in adapters (claude, codex, opencode) and the generic one. Each Build() was checked
// against the real CLI's own flag parser by tests/real_cli_test.cc; the parsers live in
// agent_output.cc.
#include "agents/agent.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace orch {

namespace {

using nlohmann::json;

// Agent runs use the API key the user gave the CLI; these only switch off what the CLIs do
// besides the run (update checks, telemetry), which an unattended service never wants.
const std::map<std::string, std::string> kClaudeEnv = {
    {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}, {"DISABLE_AUTOUPDATER", "1"}};
// Not OPENCODE_DISABLE_MODELS_FETCH or _DEFAULT_PLUGINS: real providers and logins need them.
const std::map<std::string, std::string> kOpencodeEnv = {{"OPENCODE_DISABLE_AUTOUPDATE", "1"},
                                                         {"OPENCODE_DISABLE_SHARE", "1"},
                                                         {"OPENCODE_DISABLE_LSP_DOWNLOAD", "1"}};

// What each CLI may take from orch's environment: its own keys, endpoints and settings. Any
// other variable (a provider key under another name) goes in agents.<name>.env.
const std::vector<std::string> kClaudeInherit = {"ANTHROPIC_*", "CLAUDE_*", "DISABLE_*",
                                                 "IS_SANDBOX"};
const std::vector<std::string> kCodexInherit = {"OPENAI_*", "CODEX_*", "AZURE_OPENAI_*"};
const std::vector<std::string> kOpencodeInherit = {
    "OPENCODE_*", "ANTHROPIC_*", "OPENAI_*",   "OPENROUTER_*", "GEMINI_*", "GOOGLE_GENERATIVE_AI_*",
    "GROQ_*",     "MISTRAL_*",   "DEEPSEEK_*", "XAI_*"};

bool IsInside(const std::string& path, const std::string& dir) {
  if (dir.empty() || path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) {
    return false;
  }
  return path.size() == dir.size() || path[dir.size()] == '/' || dir.back() == '/';
}

void Append(std::vector<std::string>* argv, const std::vector<std::string>& more) {
  argv->insert(argv->end(), more.begin(), more.end());
}

class ClaudeAdapter : public AgentAdapter {
 public:
  ClaudeAdapter(std::string command, const AgentConfig& ac, Sandbox sandbox)
      : AgentAdapter("claude", std::move(command), ac.args), env_(ac.env), sandbox_(sandbox) {}

  AgentCommand Build(const AgentRequest& req) const override {
    AgentCommand cmd;
    // -p with no prompt argument reads the prompt from stdin.
    cmd.argv = {command_, "-p", "--output-format", "stream-json", "--verbose"};
    if (!req.model.empty()) Append(&cmd.argv, {"--model", req.model});
    cmd.env_set = kClaudeEnv;
    cmd.env_inherit = kClaudeInherit;
    switch (req.sandbox.value_or(sandbox_)) {
      case Sandbox::kReadOnly:
        Append(&cmd.argv, {"--permission-mode", "plan"});
        break;
      case Sandbox::kWorkspaceWrite: {
        // acceptEdits lets file edits inside the cwd through (outside it they land in
        // permission_denials); other tools must be allowed by name. Bash itself is not
        // confined: the deny rules below are what keeps it off the main checkout.
        Append(&cmd.argv, {"--permission-mode", "acceptEdits", "--allowedTools"});
        Append(&cmd.argv,
               req.allowed_tools.empty() ? std::vector<std::string>{"Bash"} : req.allowed_tools);
        break;
      }
      case Sandbox::kFullAccess:
      case Sandbox::kNone:
        // Claude refuses bypassPermissions as root unless told it runs in a sandbox.
        Append(&cmd.argv, {"--permission-mode", "bypassPermissions"});
        cmd.env_set.insert_or_assign("IS_SANDBOX", std::string("1"));
        break;
    }
    // Deny rules win over every mode, bypassPermissions included. An absolute path in a
    // Read/Edit rule takes a leading "//" ("/x" is relative to the settings file); Edit rules
    // cover Write too. Claude splits `a && b` and checks each command, and matches "git  push".
    Append(&cmd.argv, {"--disallowedTools", "Bash(git push*)"});
    const std::string& main = req.main_checkout;
    if (!main.empty() && !IsInside(req.workdir, main)) {
      std::string m = main.back() == '/' ? main.substr(0, main.size() - 1) : main;
      Append(&cmd.argv, {"Read(/" + m + "/**)", "Edit(/" + m + "/**)", "Write(/" + m + "/**)",
                         "Bash(cd " + m + "*)"});
    }
    if (!req.system_prompt_file.empty()) {
      Append(&cmd.argv, {"--append-system-prompt-file", req.system_prompt_file});
    }
    if (!req.resume_id.empty()) Append(&cmd.argv, {"--resume", req.resume_id});
    Append(&cmd.argv, extra_args_);
    for (const auto& [k, v] : env_) cmd.env_set[k] = v;
    return cmd;
  }

  AgentResult Parse(const AgentOutput& output) const override {
    return ParseAgentOutput(OutputFormat::kClaudeStreamJson, output);
  }

 private:
  std::map<std::string, std::string> env_;
  Sandbox sandbox_;
};

class CodexAdapter : public AgentAdapter {
 public:
  CodexAdapter(std::string command, const AgentConfig& ac, Sandbox sandbox,
               std::optional<Sandbox> env_override)
      : AgentAdapter("codex", std::move(command), ac.args),
        env_(ac.env),
        sandbox_(sandbox),
        env_override_(env_override),
        network_(ac.network.value_or(true)) {}

  AgentCommand Build(const AgentRequest& req) const override {
    AgentCommand cmd;
    cmd.system_prompt_in_prompt = true;  // codex has no system-prompt switch
    cmd.argv = {command_, "exec"};
    if (!req.resume_id.empty()) cmd.argv.push_back("resume");
    cmd.argv.push_back("--json");
    // `exec resume` has no -s; the same setting goes through -c there.
    bool resume = !req.resume_id.empty();
    switch (env_override_.value_or(req.sandbox.value_or(sandbox_))) {
      case Sandbox::kReadOnly:
        Append(&cmd.argv, resume ? std::vector<std::string>{"-c", "sandbox_mode=\"read-only\""}
                                 : std::vector<std::string>{"-s", "read-only"});
        break;
      case Sandbox::kWorkspaceWrite:
        Append(&cmd.argv, resume
                              ? std::vector<std::string>{"-c", "sandbox_mode=\"workspace-write\""}
                              : std::vector<std::string>{"-s", "workspace-write"});
        // Codex's workspace-write sandbox has no network unless told (agents.codex.network):
        // installs and tests that fetch would fail.
        if (network_) Append(&cmd.argv, {"-c", "sandbox_workspace_write.network_access=true"});
        break;
      case Sandbox::kFullAccess:
        Append(&cmd.argv,
               resume ? std::vector<std::string>{"-c", "sandbox_mode=\"danger-full-access\""}
                      : std::vector<std::string>{"-s", "danger-full-access"});
        break;
      case Sandbox::kNone:
        cmd.argv.push_back("--dangerously-bypass-approvals-and-sandbox");
        break;
    }
    if (!req.model.empty()) Append(&cmd.argv, {"-m", req.model});
    // Quiet and bounded: without unbounded_connection_retries off, codex never gives up on an
    // endpoint it cannot reach.
    Append(&cmd.argv, {"-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false",
                       "--disable", "plugins", "--disable", "unbounded_connection_retries"});
    Append(&cmd.argv, extra_args_);
    if (resume) cmd.argv.push_back(req.resume_id);
    cmd.argv.push_back("-");  // the prompt comes from stdin
    cmd.env_set = env_;
    cmd.env_inherit = kCodexInherit;
    return cmd;
  }

  AgentResult Parse(const AgentOutput& output) const override {
    return ParseAgentOutput(OutputFormat::kCodexJsonl, output);
  }

 private:
  std::map<std::string, std::string> env_;
  Sandbox sandbox_;
  std::optional<Sandbox> env_override_;
  bool network_;
};

// OpenCode's permission settings for a sandbox; it takes them in OPENCODE_CONFIG_CONTENT.
json OpencodePermissions(Sandbox sandbox) {
  json bash = {{"*", "allow"}, {"git push*", "deny"}};
  switch (sandbox) {
    case Sandbox::kReadOnly:
      return {{"edit", "deny"}, {"bash", "deny"}, {"external_directory", "deny"}};
    case Sandbox::kWorkspaceWrite:
      return {{"edit", "allow"}, {"bash", bash}, {"external_directory", "deny"}};
    case Sandbox::kFullAccess:
    case Sandbox::kNone:
      return {{"edit", "allow"}, {"bash", bash}, {"external_directory", "allow"}};
  }
  return json::object();
}

class OpencodeAdapter : public AgentAdapter {
 public:
  // `user_config`: OPENCODE_CONFIG_CONTENT as the user gave it (orch's environment, then
  // agents.opencode.env), an object; it is merged over orch's permissions.
  OpencodeAdapter(std::string command, const AgentConfig& ac, Sandbox sandbox, json user_config)
      : AgentAdapter("opencode", std::move(command), ac.args),
        env_(ac.env),
        sandbox_(sandbox),
        user_config_(std::move(user_config)) {}

  AgentCommand Build(const AgentRequest& req) const override {
    AgentCommand cmd;
    cmd.system_prompt_in_prompt = true;  // no system-prompt switch on `run`
    // `run` with no message reads the prompt from stdin.
    cmd.argv = {command_, "run", "--format", "json"};
    if (!req.model.empty()) Append(&cmd.argv, {"-m", req.model});
    if (!req.resume_id.empty()) Append(&cmd.argv, {"--session", req.resume_id});
    // A session resumes only from its own directory: say it explicitly.
    if (!req.workdir.empty()) Append(&cmd.argv, {"--dir", req.workdir});
    Append(&cmd.argv, extra_args_);
    cmd.env_set = kOpencodeEnv;
    cmd.env_inherit = kOpencodeInherit;
    for (const auto& [k, v] : env_) cmd.env_set[k] = v;
    json config = {{"permission", OpencodePermissions(req.sandbox.value_or(sandbox_))}};
    config.merge_patch(user_config_);
    cmd.env_set["OPENCODE_CONFIG_CONTENT"] = config.dump();
    return cmd;
  }

  AgentResult Parse(const AgentOutput& output) const override {
    return ParseAgentOutput(OutputFormat::kOpencodeJsonl, output);
  }

 private:
  std::map<std::string, std::string> env_;
  Sandbox sandbox_;
  json user_config_;
};

class GenericAdapter : public AgentAdapter {
 public:
  GenericAdapter(std::string name, const AgentConfig& ac)
      : AgentAdapter(std::move(name), ac.command, ac.args),
        env_(ac.env),
        format_(ac.output_format.value_or(OutputFormat::kText)) {}

  AgentCommand Build(const AgentRequest&) const override {
    AgentCommand cmd;
    cmd.system_prompt_in_prompt = true;
    cmd.argv = {command_};
    Append(&cmd.argv, extra_args_);
    cmd.env_set = env_;
    return cmd;
  }

  AgentResult Parse(const AgentOutput& output) const override {
    return ParseAgentOutput(format_, output);
  }

 private:
  std::map<std::string, std::string> env_;
  OutputFormat format_;
};

}  // namespace

const std::vector<std::string>& AgentBaseEnvironment() {
  static const auto* base = new std::vector<std::string>{
      "PATH",       "HOME",          "USER",         "LOGNAME",
      "SHELL",      "LANG",          "LANGUAGE",     "LC_*",
      "TERM",       "COLORTERM",     "TZ",           "TMPDIR",
      "XDG_*",      "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
      "HTTP_PROXY", "HTTPS_PROXY",   "NO_PROXY",     "ALL_PROXY",
      "http_proxy", "https_proxy",   "no_proxy",     "all_proxy"};
  return *base;
}

std::vector<std::string> AgentEnvironment(const AgentCommand& cmd) {
  std::vector<std::string> keep = AgentBaseEnvironment();
  keep.insert(keep.end(), cmd.env_inherit.begin(), cmd.env_inherit.end());
  return keep;
}

std::vector<std::string> AgentAdapter::VersionArgv() const { return {command_, "--version"}; }

Result<std::unique_ptr<AgentAdapter>> MakeAgentAdapter(const std::string& name,
                                                       const Config& config, const EnvLookup& env) {
  AgentConfig ac;
  if (auto it = config.agents.find(name); it != config.agents.end()) ac = it->second;
  Sandbox sandbox = ac.sandbox.value_or(config.workflow.sandbox);
  std::string command = ac.command.empty() ? name : ac.command;
  if (name == "claude")
    return std::unique_ptr<AgentAdapter>(new ClaudeAdapter(command, ac, sandbox));
  if (name == "codex") {
    std::optional<Sandbox> override;
    if (auto v = env("CODEX_SANDBOX"); v && !v->empty()) {
      override = ParseSandboxName(*v);
      if (!override) {
        return Status::InvalidArgument("CODEX_SANDBOX", "\"" + *v +
                                                            "\" is not one of read-only, "
                                                            "workspace-write, full-auto, "
                                                            "full-access, danger-full-access, "
                                                            "none");
      }
    }
    return std::unique_ptr<AgentAdapter>(new CodexAdapter(command, ac, sandbox, override));
  }
  if (name == "opencode") {
    json user = json::object();
    std::vector<std::pair<std::string, std::string>> sources;
    if (auto v = env("OPENCODE_CONFIG_CONTENT"); v && !v->empty()) {
      sources.emplace_back("OPENCODE_CONFIG_CONTENT", *v);
    }
    if (auto it = ac.env.find("OPENCODE_CONFIG_CONTENT"); it != ac.env.end()) {
      sources.emplace_back("agents.opencode.env.OPENCODE_CONFIG_CONTENT", it->second);
    }
    for (const auto& [where, text] : sources) {
      json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        return Status::InvalidArgument(where, "expected a JSON object");
      }
      user.merge_patch(j);
    }
    return std::unique_ptr<AgentAdapter>(new OpencodeAdapter(command, ac, sandbox, user));
  }
  if (ac.command.empty() || !ac.output_format) {
    return Status::InvalidArgument("agents." + name,
                                   "a custom agent needs command and output_format");
  }
  return std::unique_ptr<AgentAdapter>(new GenericAdapter(name, ac));
}

}  // namespace orch

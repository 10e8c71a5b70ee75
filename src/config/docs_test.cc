// docs/configuration.md documents exactly the configuration keys orch reads.
//
// The page's convention (stated at its top): every key is a row of a table whose header's first
// cell is "Key", and the row's first cell is the key's full dotted name in backticks.
// `<name>` stands for a name the user chooses (`agents.<name>.command`), `jobs[].` for a key of
// each job, and a key whose value is a map of names the user chooses (`model_map.simple`,
// `agents.<name>.env`) is documented as the map.
//
// The code's side has two parts. The keys of a Config are those RenderConfig prints for
// `orch config show` when every optional part is present (a custom agent with every field, a
// task job and a command job): each of them must be documented. And every documented key must
// be one the parser reads: a file setting it must not get "unknown key". Aliases the parser
// accepts but never prints (`jobs[].name`, the flat `jobs[].title`) are checked in that second
// direction only; a new alias added to the parser alone goes unnoticed here.
//
// docs/architecture.md's "Source layout" is a guide to every header under src/: each one is
// named there as `folder/name.h` (in backticks, the path below src/), and every header path the
// page names in backticks exists (below src/, or from the top of the tree).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "testing/test_util.h"

namespace orch {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string body = Trim(row);
  if (body.empty() || body.front() != '|') return cells;
  body = body.substr(1);
  if (!body.empty() && body.back() == '|') body.pop_back();
  std::istringstream in(body);
  std::string cell;
  while (std::getline(in, cell, '|')) cells.push_back(Trim(cell));
  return cells;
}

std::string Join(const std::set<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// The keys documented in `markdown`, by the convention above. A row of a "Key" table whose
// first cell is not one backticked key goes into `malformed`.
std::set<std::string> DocumentedKeys(const std::string& markdown,
                                     std::vector<std::string>* malformed) {
  std::set<std::string> keys;
  std::istringstream in(markdown);
  std::string line;
  bool in_table = false, key_table = false, header_done = false;
  while (std::getline(in, line)) {
    std::vector<std::string> cells = Cells(line);
    if (cells.empty()) {
      in_table = false;
      continue;
    }
    if (!in_table) {  // a table's first row is its header
      in_table = true;
      key_table = cells[0] == "Key";
      header_done = false;
      continue;
    }
    if (!header_done) {  // the |---|---| row under the header
      header_done = true;
      continue;
    }
    if (!key_table) continue;
    const std::string& first = cells[0];
    if (first.size() < 3 || first.front() != '`' || first.back() != '`' ||
        first.find('`', 1) != first.size() - 1) {
      malformed->push_back(line);
      continue;
    }
    keys.insert(first.substr(1, first.size() - 2));
  }
  return keys;
}

// Dotted key paths of a rendered config. A sequence's items are named `<key>[]`; an empty map,
// a list or a value ends a path; a map entry named `<...>` (a name the user chooses, as in
// `model_map.simple.<agent>`) ends the path at its map.
void KeyPaths(const YAML::Node& node, const std::string& path, std::set<std::string>* out) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      if (key.front() == '<' && key.back() == '>' && !kv.second.IsMap()) {
        out->insert(path);
        continue;
      }
      KeyPaths(kv.second, path.empty() ? key : path + "." + key, out);
    }
  } else if (node.IsSequence() && node.size() > 0 && node[0].IsMap()) {
    for (const auto& item : node) KeyPaths(item, path + "[]", out);
  } else {
    out->insert(path);
  }
}

// A Config with every optional part present, so that RenderConfig prints every key.
Config FullConfig() {
  Config c;
  AgentConfig& agent = c.agents["<name>"];
  agent.sandbox = Sandbox::kReadOnly;
  agent.output_format = OutputFormat::kText;
  agent.env["<VAR>"] = "value";
  // A table of model_map is a map of names, one row: its default entries are not keys.
  c.model_map.simple = {{"<agent>", "model"}};
  c.model_map.medium.clear();
  c.model_map.complex.clear();
  c.model_map.review.clear();
  JobConfig task_job;
  task_job.type = JobType::kTask;
  JobConfig command_job;
  command_job.type = JobType::kCommand;
  c.jobs = {task_job, command_job};
  return c;
}

// A config file that sets `key` (in the page's notation) to a scalar.
YAML::Node Setting(const std::vector<std::string>& segments, size_t i) {
  if (i == segments.size()) return YAML::Node("x");
  std::string segment = segments[i];
  YAML::Node map;
  if (segment.size() > 2 && segment.substr(segment.size() - 2) == "[]") {
    YAML::Node list;
    list.push_back(Setting(segments, i + 1));
    map[segment.substr(0, segment.size() - 2)] = list;
  } else {
    map[segment] = Setting(segments, i + 1);
  }
  return map;
}

// Whether the parser reads `key` as a key of its own (a value, a list or a map of names):
// setting it may be an error of type or range, but not "unknown key", nor "expected a
// mapping of keys" (a section or an agent, which hold keys rather than being one).
bool ParserReads(const std::string& key) {
  std::vector<std::string> segments;
  std::istringstream in(key);
  std::string segment;
  while (std::getline(in, segment, '.')) segments.push_back(segment);
  std::string yaml = YAML::Dump(Setting(segments, 0));
  Result<Config> parsed =
      ParseConfig({{"config.yml", yaml}},
                  [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  if (parsed.ok()) return true;
  const std::string& errors = parsed.status().message();
  return errors.find("unknown key") == std::string::npos &&
         errors.find("expected a mapping of keys") == std::string::npos;
}

TEST(DocsTest, ConfigurationPageListsExactlyTheKeysTheCodeReads) {
  // Given docs/configuration.md and the parser, every key the code has is documented and every
  // documented key is read; a failure names the keys.
  std::string page = test::ReadFile(std::string(ORCH_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_FALSE(page.empty());
  std::vector<std::string> malformed;
  std::set<std::string> documented = DocumentedKeys(page, &malformed);
  std::string bad_rows;
  for (const std::string& row : malformed) bad_rows += row + "\n";
  EXPECT_TRUE(malformed.empty()) << "rows of a Key table whose first cell is not one `key`:\n"
                                 << bad_rows;

  std::set<std::string> code;
  KeyPaths(YAML::Load(RenderConfig(FullConfig())), "", &code);
  ASSERT_GT(code.size(), 50u) << "the rendered config looks incomplete: " << Join(code);

  std::set<std::string> undocumented;
  for (const std::string& k : code) {
    if (!documented.count(k)) undocumented.insert(k);
  }
  EXPECT_TRUE(undocumented.empty())
      << "keys the code reads that docs/configuration.md does not document: " << Join(undocumented);

  std::set<std::string> unread;
  for (const std::string& k : documented) {
    if (!ParserReads(k)) unread.insert(k);
  }
  EXPECT_TRUE(unread.empty())
      << "keys docs/configuration.md documents that the parser does not read: " << Join(unread);
}

TEST(DocsTest, KeyExtractionFollowsThePageConvention) {
  // Only the first cell of "Key" tables counts; other tables are prose.
  std::vector<std::string> malformed;
  std::set<std::string> keys = DocumentedKeys(
      "| Key | Meaning |\n| --- | --- |\n| `a.b` | x |\n| `jobs[].id` | y |\n\n"
      "| Sandbox | claude |\n| --- | --- |\n| `read-only` | plan |\n\n"
      "| Key | Meaning |\n| --- | --- |\n| a.c | no backticks |\n",
      &malformed);
  EXPECT_EQ(keys, (std::set<std::string>{"a.b", "jobs[].id"}));
  EXPECT_EQ(malformed, std::vector<std::string>{"| a.c | no backticks |"});
  EXPECT_TRUE(ParserReads("webhook.port"));
  EXPECT_TRUE(ParserReads("jobs[].task.title"));
  EXPECT_TRUE(ParserReads("agents.<name>.env"));
  EXPECT_FALSE(ParserReads("webhook.portt"));
  EXPECT_FALSE(ParserReads("channels.telegram"));  // a section, not a key
}

// The contents of `markdown`'s code spans (`...`) that look like a header's path: letters,
// digits, '_', '-', '.' and '/' only, at least one '/', ending in ".h". Fenced blocks (```) are
// skipped; a span may wrap across lines, as Markdown allows.
std::set<std::string> NamedHeaders(const std::string& markdown) {
  std::set<std::string> names;
  size_t i = 0;
  while ((i = markdown.find('`', i)) != std::string::npos) {
    if (markdown.compare(i, 3, "```") == 0) {
      size_t end = markdown.find("```", i + 3);
      if (end == std::string::npos) break;
      i = end + 3;
      continue;
    }
    size_t end = markdown.find('`', i + 1);
    if (end == std::string::npos) break;
    std::string span = markdown.substr(i + 1, end - i - 1);
    i = end + 1;
    bool path_chars = !span.empty() && span.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_-./") == std::string::npos;
    if (path_chars && span.find('/') != std::string::npos && span.size() > 2 &&
        span.compare(span.size() - 2, 2, ".h") == 0) {
      names.insert(span);
    }
  }
  return names;
}

// Every *.h under `src`, as its path below `src` ("base/status.h").
std::set<std::string> HeadersUnder(const std::filesystem::path& src) {
  std::set<std::string> headers;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    if (entry.is_regular_file() && entry.path().extension() == ".h") {
      headers.insert(entry.path().lexically_relative(src).generic_string());
    }
  }
  return headers;
}

TEST(DocsTest, ArchitectureGuideNamesEveryHeader) {
  // Given docs/architecture.md and the headers under src/, the page names every header as
  // `folder/name.h`, and every header path it names still exists; a failure lists them.
  const std::filesystem::path root(ORCH_SOURCE_DIR);
  std::string page = test::ReadFile((root / "docs" / "architecture.md").string());
  ASSERT_FALSE(page.empty());
  std::set<std::string> headers = HeadersUnder(root / "src");
  ASSERT_GT(headers.size(), 50u) << "too few headers under src/: " << Join(headers);
  std::set<std::string> named = NamedHeaders(page);

  std::set<std::string> unnamed;
  for (const std::string& h : headers) {
    if (!named.count(h)) unnamed.insert(h);
  }
  EXPECT_TRUE(unnamed.empty())
      << "headers docs/architecture.md does not name as `folder/name.h` (add a line to its "
         "\"Source layout\"): "
      << Join(unnamed);

  // A name is a path below src/ ("base/status.h") or from the top of the tree
  // ("tests/orch_fixture.h", "src/base/status.h").
  std::set<std::string> gone;
  for (const std::string& n : named) {
    if (!std::filesystem::is_regular_file(root / "src" / n) &&
        !std::filesystem::is_regular_file(root / n)) {
      gone.insert(n);
    }
  }
  EXPECT_TRUE(gone.empty()) << "header paths docs/architecture.md names that do not exist: "
                            << Join(gone);
}

TEST(DocsTest, HeaderNamesAreCodeSpansThatLookLikePaths) {
  EXPECT_EQ(NamedHeaders("`base/status.h` and `engine/intake.h`, `store.h`, `a/b.cc`,\n"
                         "`orch\nserve` reads `runs/run_engine.h`; `#include \"x/y.h\"`\n"
                         "```\n`stream/in_fence.h`\n```\n`src/cli/cli.h`"),
            (std::set<std::string>{"base/status.h", "engine/intake.h", "runs/run_engine.h",
                                   "src/cli/cli.h"}));
}

}  // namespace
}  // namespace orch

#include "arg_parser.h"

#include <sstream>

namespace orch::standin {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A word that the libraries read as a flag: "-x", "--xy"; a lone "-" is a value (stdin).
bool LooksLikeFlag(const std::string& word) { return word.size() > 1 && word[0] == '-'; }

std::string Join(const std::vector<std::string>& words, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? sep : "") + words[i];
  return out;
}

// How clap names a flag in its messages: the long name and the value name, no short form.
std::string ClapDisplay(const FlagShape& shape) {
  std::string out = shape.Primary();
  if (!shape.value_name.empty()) {
    std::string value = shape.value_name;
    if (EndsWith(value, "...")) value.resize(value.size() - 3);
    out += " " + value;
  }
  return out;
}

const char kClapMore[] = "\nFor more information, try '--help'.\n";

class Parser {
 public:
  Parser(const CommandSpec& command, const std::vector<std::string>& argv)
      : command_(command), argv_(argv) {}

  ParseOutcome Run();

 private:
  const FlagSpec* Find(const std::string& name, FlagShape* shape) const;
  bool ParseFlag(const std::string& word);
  bool TakeValues(const FlagSpec& flag, const FlagShape& shape,
                  std::optional<std::string> inline_value);
  bool CheckChoice(const FlagSpec& flag, const FlagShape& shape, const std::string& value);
  bool AddPositional(const std::string& word);
  bool ExpandShortCluster(const std::string& word);

  void Unknown(const std::string& word);
  void Missing(const FlagSpec& flag, const FlagShape& shape);
  void Fail(std::string message, int exit_code) {
    out_.error = ArgError{std::move(message), exit_code};
  }

  const CommandSpec& command_;
  const std::vector<std::string>& argv_;
  size_t next_ = 0;
  ParseOutcome out_;
};

const FlagSpec* Parser::Find(const std::string& name, FlagShape* shape) const {
  for (const FlagSpec& flag : command_.flags) {
    FlagShape candidate = ShapeOf(flag);
    for (const std::string& n : candidate.names) {
      if (n == name) {
        *shape = candidate;
        return &flag;
      }
    }
  }
  return nullptr;
}

ParseOutcome Parser::Run() {
  bool only_positionals = false;
  while (next_ < argv_.size() && !out_.error && !out_.args.subcommand) {
    const std::string& word = argv_[next_++];
    if (!only_positionals && word == "--") {
      only_positionals = true;
    } else if (!only_positionals && LooksLikeFlag(word)) {
      ParseFlag(word);
    } else {
      AddPositional(word);
    }
  }
  return out_;
}

bool Parser::AddPositional(const std::string& word) {
  ParsedArgs& args = out_.args;
  if (args.positionals.empty()) {
    for (const std::string& sub : command_.subcommands) {
      if (word != sub) continue;
      args.subcommand = word;
      args.rest.assign(argv_.begin() + next_, argv_.end());
      return true;
    }
  }
  if (command_.max_positionals >= 0 &&
      static_cast<int>(args.positionals.size()) >= command_.max_positionals) {
    Fail("error: unexpected argument '" + word + "' found\n\n" + command_.usage + kClapMore, 2);
    return false;
  }
  args.positionals.push_back(word);
  return true;
}

bool Parser::ParseFlag(const std::string& word) {
  std::string name = word;
  std::optional<std::string> inline_value;
  size_t eq = word.find('=');
  if (StartsWith(word, "--") && eq != std::string::npos) {
    name = word.substr(0, eq);
    inline_value = word.substr(eq + 1);
  } else if (!StartsWith(word, "--") && word.size() > 2) {
    return ExpandShortCluster(word);
  }
  FlagShape shape;
  const FlagSpec* flag = Find(name, &shape);
  if (flag == nullptr || (inline_value && shape.arity == Arity::kNone)) {
    Unknown(word);
    return false;
  }
  return TakeValues(*flag, shape, inline_value);
}

// "-pv" is two switches and "-ofile" is "-o file" in all three libraries.
bool Parser::ExpandShortCluster(const std::string& word) {
  for (size_t i = 1; i < word.size(); ++i) {
    FlagShape shape;
    const FlagSpec* flag = Find(std::string("-") + word[i], &shape);
    if (flag == nullptr) {
      Unknown(i == 1 ? word : std::string("-") + word[i]);
      return false;
    }
    if (shape.arity != Arity::kNone) {
      std::string value = word.substr(i + 1);
      if (!value.empty() && value[0] == '=') value.erase(0, 1);
      return TakeValues(*flag, shape, value.empty() ? std::nullopt : std::optional(value));
    }
    out_.args.flags[shape.Primary()];
  }
  return true;
}

bool Parser::TakeValues(const FlagSpec& flag, const FlagShape& shape,
                        std::optional<std::string> inline_value) {
  std::vector<std::string>& values = out_.args.flags[shape.Primary()];
  if (shape.arity == Arity::kNone) return true;
  if (inline_value) {
    values.push_back(*inline_value);
    return CheckChoice(flag, shape, *inline_value);
  }
  bool has_next = next_ < argv_.size();
  // Commander hands a required option-argument the next word even when it starts with '-';
  // clap and yargs take it as the next flag.
  bool next_is_value =
      has_next && (!LooksLikeFlag(argv_[next_]) ||
                   (command_.dialect == Dialect::kCommander && shape.arity == Arity::kOne));
  if (!next_is_value) {
    if (shape.arity == Arity::kOptional) return true;
    if (command_.dialect == Dialect::kYargs) return true;  // yargs: the value is ""
    Missing(flag, shape);
    return false;
  }
  values.push_back(argv_[next_++]);
  if (!CheckChoice(flag, shape, values.back())) return false;
  while (shape.arity == Arity::kVariadic && next_ < argv_.size() && !LooksLikeFlag(argv_[next_])) {
    if (argv_[next_] == "--") break;
    values.push_back(argv_[next_++]);
  }
  return true;
}

bool Parser::CheckChoice(const FlagSpec& flag, const FlagShape& shape, const std::string& value) {
  if (flag.choices.empty()) return true;
  for (const std::string& choice : flag.choices) {
    if (choice == value) return true;
  }
  switch (command_.dialect) {
    case Dialect::kCommander:
      Fail("error: option '" + flag.spec + "' argument '" + value +
               "' is invalid. Allowed choices are " + Join(flag.choices, ", ") + ".\n",
           1);
      break;
    case Dialect::kClap:
      Fail("error: invalid value '" + value + "' for '" + ClapDisplay(shape) +
               "'\n  [possible values: " + Join(flag.choices, ", ") + "]\n" + kClapMore,
           2);
      break;
    case Dialect::kYargs:
      Fail(command_.usage, 1);
      break;
  }
  return false;
}

void Parser::Unknown(const std::string& word) {
  switch (command_.dialect) {
    case Dialect::kCommander:
      Fail("error: unknown option '" + word + "'\n", 1);
      break;
    case Dialect::kClap:
      Fail("error: unexpected argument '" + word + "' found\n\n  tip: to pass '" + word +
               "' as a value, use '-- " + word + "'\n\n" + command_.usage + kClapMore,
           2);
      break;
    case Dialect::kYargs:
      // yargs in strict mode prints the command's help to stderr and nothing else.
      Fail(command_.usage, 1);
      break;
  }
}

void Parser::Missing(const FlagSpec& flag, const FlagShape& shape) {
  if (command_.dialect == Dialect::kCommander) {
    Fail("error: option '" + flag.spec + "' argument missing\n", 1);
  } else {
    Fail("error: a value is required for '" + ClapDisplay(shape) + "' but none was supplied\n" +
             kClapMore,
         2);
  }
}

}  // namespace

std::string FlagShape::Primary() const {
  for (const std::string& n : names) {
    if (StartsWith(n, "--")) return n;
  }
  return names.empty() ? "" : names.front();
}

FlagShape ShapeOf(const FlagSpec& flag) {
  FlagShape shape;
  std::istringstream words(flag.spec);
  std::string word;
  while (words >> word) {
    if (!word.empty() && word.back() == ',') word.pop_back();
    if (word[0] == '-') {
      shape.names.push_back(word);
    } else {
      shape.value_name = word;
    }
  }
  const std::string& v = shape.value_name;
  if (v.empty()) {
    shape.arity = Arity::kNone;
  } else if (v[0] == '[') {
    shape.arity = Arity::kOptional;
  } else if (EndsWith(v, "...>") || EndsWith(v, ">...")) {
    shape.arity = Arity::kVariadic;
  } else {
    shape.arity = Arity::kOne;
  }
  return shape;
}

std::string ParsedArgs::Value(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(const std::string& name) const {
  auto it = flags.find(name);
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

ParseOutcome ParseArgs(const CommandSpec& command, const std::vector<std::string>& argv) {
  return Parser(command, argv).Run();
}

}  // namespace orch::standin

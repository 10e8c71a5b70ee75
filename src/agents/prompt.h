// Prompts: finding the templates in prompts/ and putting untrusted text into them safely.
//
// A template is looked up in $ORCH_HOME/prompts/ (the user's override), then $ORCH_PROMPTS_DIR,
// then share/orch/prompts beside the installed binary, then the source tree it was built from.
// Text from GitHub goes only inside FenceUntrusted's block: the block's markers are removed
// from the text first, so it cannot close the fence and speak as orch. Pure apart from
// LoadPrompt's reads; thread-safe.
#ifndef ORCH_AGENTS_PROMPT_H_
#define ORCH_AGENTS_PROMPT_H_

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace orch {

// The template `name` (e.g. "agent_system.md"), and the path it was read from.
struct PromptFile {
  std::string path;
  std::string text;
};
Result<PromptFile> LoadPrompt(const std::string& orch_home, const std::string& name);

inline constexpr std::string_view kUntrustedOpen = "<<<UNTRUSTED TASK";
inline constexpr std::string_view kUntrustedClose = "UNTRUSTED TASK>>>";

// `text` between kUntrustedOpen and kUntrustedClose, with any copy of either marker inside it
// defused.
std::string FenceUntrusted(std::string_view text);
// The text with both markers defused (for templates that place the markers themselves).
std::string DefuseMarkers(std::string_view text);

// Replaces each {{key}} in `tmpl` with its value; unknown keys are left as they are.
std::string FillTemplate(std::string_view tmpl, const std::map<std::string, std::string>& values);

}  // namespace orch

#endif  // ORCH_AGENTS_PROMPT_H_

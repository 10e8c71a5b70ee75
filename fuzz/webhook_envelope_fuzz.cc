// libFuzzer target: the webhook envelope scanner (ParseEnvelope, src/receiver/webhook_envelope.h)
// and FormPayload over arbitrary bytes.
//
// Whatever the scanner accepts, nlohmann/json (what the engine applies deliveries with) must
// accept too, as an object with the same "action" and "repository"."full_name"; a body the two
// would read differently aborts. `make fuzz` runs it; the seed corpus is
// fuzz/corpus/webhook_envelope, which the unit tests also replay (WebhookEnvelopeTest).
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "receiver/webhook_envelope.h"

namespace {

std::string StringAt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)orch::FormPayload(body);
  orch::Result<orch::WebhookEnvelope> env = orch::ParseEnvelope(body);
  if (!env.ok()) return 0;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) abort();
  if (StringAt(j, "action") != env->action) abort();
  auto repo = j.find("repository");
  std::string full_name = repo != j.end() && repo->is_object() ? StringAt(*repo, "full_name") : "";
  if (full_name != env->repo) abort();
  return 0;
}

// The envelope of a webhook delivery: the few fields of its JSON the inbox keeps beside the raw
// body, read by a one-pass scanner that also checks the whole body is one well-formed JSON
// object (RFC 8259, UTF-8 included) without building a document. Values in, values out: no I/O,
// so tests and the fuzz target (fuzz/webhook_envelope_fuzz.cc) call it directly.
//
// A member name given twice in one object (`"action"` twice, at any depth) is an error: JSON
// leaves its meaning open (nlohmann keeps the last, the scanner once concatenated both), and an
// envelope read one way and applied another is worse than a 400.
//
// Thread safety: pure functions.
#ifndef ORCH_RECEIVER_WEBHOOK_ENVELOPE_H_
#define ORCH_RECEIVER_WEBHOOK_ENVELOPE_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace orch {

// The parts of a delivery's JSON the inbox keeps beside the raw body.
struct WebhookEnvelope {
  std::string action;
  std::string repo;  // repository.full_name
};

// The JSON of a delivery GitHub sent as `application/x-www-form-urlencoded` (a webhook's
// content type may be set so): the URL-decoded value of its `payload` field. InvalidArgument
// when there is none.
Result<std::string> FormPayload(std::string_view body);

// Checks that `body` is one JSON object and reads its top-level "action" and
// "repository.full_name" in one pass without building a document. InvalidArgument describing
// the syntax error otherwise, or naming a member name given twice in one object.
Result<WebhookEnvelope> ParseEnvelope(std::string_view body);

}  // namespace orch

#endif  // ORCH_RECEIVER_WEBHOOK_ENVELOPE_H_

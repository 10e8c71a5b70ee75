// Lenient field access for JSON from GitHub: a missing key, a null or a value of another type
// reads as empty, because GitHub omits or nulls fields freely (an issue's body, a review's
// line) and a missing one must not throw. Header-only; pure.
#ifndef ORCH_BASE_JSON_FIELDS_H_
#define ORCH_BASE_JSON_FIELDS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace orch {

inline std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

inline int64_t JsonInt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

// j[key] when it is an object, else an empty object.
inline const nlohmann::json& JsonObject(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace orch

#endif  // ORCH_BASE_JSON_FIELDS_H_

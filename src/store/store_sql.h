// Helpers for the store's SQL (store*.cc only): NULL-able columns in and out.
#ifndef ORCH_STORE_STORE_SQL_H_
#define ORCH_STORE_STORE_SQL_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <optional>
#include <string>

namespace orch::sql {

inline std::optional<std::string> OptText(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getString();
}

inline std::optional<int64_t> OptInt(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

template <typename T>
void BindOpt(SQLite::Statement& s, int index, const std::optional<T>& v) {
  if (v) {
    s.bind(index, *v);
  } else {
    s.bind(index);
  }
}

}  // namespace orch::sql

#endif  // ORCH_STORE_STORE_SQL_H_

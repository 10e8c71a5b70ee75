// The dashboard's files (the source tree's dashboard/ folder), compiled into the binary by
// cmake/embed_dashboard.cmake so `orch serve` needs nothing installed beside it and the page
// loads nothing from elsewhere. Thread safety: constant data.
#ifndef ORCH_DASHBOARD_ASSETS_H_
#define ORCH_DASHBOARD_ASSETS_H_

#include <cstddef>
#include <string_view>

namespace orch {

struct DashboardAsset {
  const char* path;          // "/index.html", "/app.js", ...
  const char* content_type;  // from the file's extension
  std::string_view body;
};

extern const DashboardAsset kDashboardAssets[];
extern const size_t kDashboardAssetCount;

// The asset served at `path` ("/" is /index.html); nullptr when there is none.
inline const DashboardAsset* FindDashboardAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (size_t i = 0; i < kDashboardAssetCount; ++i) {
    if (kDashboardAssets[i].path == path) return &kDashboardAssets[i];
  }
  return nullptr;
}

}  // namespace orch

#endif  // ORCH_DASHBOARD_ASSETS_H_

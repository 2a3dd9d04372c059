// YAML text -> ConfigMap, read the way services read their configs (typed keys, a nested
// mapping, Finish's unknown-key check).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/config/config_map.h"

namespace {

void ReadSome(plumb::config::ConfigMap& map, int depth) {
  std::string text;
  bool flag = false;
  int64_t number = 0;
  int small = 0;
  double real = 0;
  std::vector<std::string> list;
  absl::Duration duration;
  (void)map.Read("name", &text);
  (void)map.Read("enabled", &flag);
  (void)map.Read("port", &number, {0, 65535});
  (void)map.Read("threads", &small);
  (void)map.Read("rate", &real, {0, 1, true});
  (void)map.Read("items", &list);
  (void)map.Read("timeout", &duration);
  (void)map.ReadChoice("kind", &text, {"a", "b"});
  if (depth < 3) {
    absl::StatusOr<std::optional<plumb::config::ConfigMap>> child = map.Child("server");
    if (child.ok() && child->has_value()) ReadSome(**child, depth + 1);
  }
  (void)map.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<plumb::config::ConfigMap> map =
      plumb::config::ConfigMap::FromString(text, "config.yaml");
  if (map.ok()) ReadSome(*map, 0);
  return 0;
}

// Reading YAML into typed, validated structs.
//
// A ConfigMap is one YAML mapping being read into a struct. It knows the file it came from and
// the dotted key path that leads to it, so every error names the file, the line, the key, the bad
// value and what is allowed, e.g.
//   configs/generator.yaml:4: key 'server.port': '70000' is out of range; expected an integer in
//   [0, 65535]
// It remembers which keys were read: Finish() rejects any key nobody asked for, so a typo such as
// `prot: 50051` is an error instead of a silent fallback to the default.
//
// Usage (fields keep their defaults when a key is absent):
//   ASSIGN_OR_RETURN(ConfigMap root, ConfigMap::FromFile(path));
//   RETURN_IF_ERROR(root.Read("port", &options.port, IntRange{0, 65535}));
//   ASSIGN_OR_RETURN(std::optional<ConfigMap> tls, root.Child("tls"));
//   RETURN_IF_ERROR(root.Finish());
//
// Thread safety: none; a ConfigMap is read by one thread, at start-up.
#ifndef PLUMB_COMMON_CONFIG_CONFIG_MAP_H_
#define PLUMB_COMMON_CONFIG_CONFIG_MAP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace YAML {
class Node;
}

namespace plumb::config {

// YAML files, and files a key names (ReadFileContents: PEM certificates, tokens), are refused past
// this size. YAML nesting is bounded by yaml-cpp (DeepRecursion at 2000 levels).
inline constexpr size_t kMaxConfigFileBytes = size_t{4} << 20;

struct IntRange {
  int64_t min = INT64_MIN;
  int64_t max = INT64_MAX;
};

struct DoubleRange {
  double min = -1e308;
  double max = 1e308;
  bool min_exclusive = false;
};

class ConfigMap {
 public:
  // Parses a YAML file whose top level must be a mapping. An empty file is an empty mapping.
  static absl::StatusOr<ConfigMap> FromFile(const std::string& path);
  // `source` names the text in errors (a file name, or e.g. "<inline>").
  static absl::StatusOr<ConfigMap> FromString(absl::string_view yaml, std::string source);

  ConfigMap(ConfigMap&&) noexcept;
  ConfigMap& operator=(ConfigMap&&) noexcept;
  ~ConfigMap();

  bool Has(absl::string_view key) const;

  // Each Read leaves *out unchanged when `key` is absent and fails when it is present with a
  // value of the wrong type or outside the allowed range.
  absl::Status Read(absl::string_view key, std::string* out);
  absl::Status Read(absl::string_view key, bool* out);
  absl::Status Read(absl::string_view key, int64_t* out, IntRange range = {});
  absl::Status Read(absl::string_view key, int* out, IntRange range = {});
  absl::Status Read(absl::string_view key, double* out, DoubleRange range = {});
  absl::Status Read(absl::string_view key, std::vector<std::string>* out);
  // A duration written as "250ms", "30s", "1m30s" (absl::ParseDuration), at least `min`.
  absl::Status Read(absl::string_view key, absl::Duration* out,
                    absl::Duration min = absl::ZeroDuration());
  // A path; the file it names is read into *contents (PEM files, tokens). An unreadable file, or
  // one larger than kMaxConfigFileBytes, is an error naming the key and the path.
  absl::Status ReadFileContents(absl::string_view key, std::string* contents);
  // A string that must be one of `allowed`.
  absl::Status ReadChoice(absl::string_view key, std::string* out,
                          const std::vector<std::string>& allowed);

  // The nested mapping under `key`, or nullopt when the key is absent.
  absl::StatusOr<std::optional<ConfigMap>> Child(absl::string_view key);
  // The mappings of the list under `key` (empty when the key is absent), each keyed
  // "key[i]" in errors. INVALID_ARGUMENT when the value is not a list of mappings or holds more
  // than `max_items`.
  absl::StatusOr<std::vector<ConfigMap>> Children(absl::string_view key, int64_t max_items);

  // Fails on the first key of this mapping that no Read/Child asked for, suggesting the nearest
  // known key. Call it after reading every field.
  absl::Status Finish() const;

  // An INVALID_ARGUMENT error about `key` in this mapping: "file:line: key 'path.key': message".
  absl::Status Error(absl::string_view key, absl::string_view message) const;

  // The file (or source name) and dotted path of this mapping ("" at the top level).
  const std::string& source() const { return *source_; }
  const std::string& path() const { return path_; }

 private:
  ConfigMap(std::shared_ptr<const std::string> source, std::string path,
            std::unique_ptr<YAML::Node> node);
  // Returns the scalar node for `key`, nullptr when absent, or an error when it is not a scalar.
  absl::StatusOr<const YAML::Node*> Scalar(absl::string_view key);
  std::string FullKey(absl::string_view key) const;
  int LineOf(absl::string_view key) const;

  std::shared_ptr<const std::string> source_;
  std::string path_;
  std::unique_ptr<YAML::Node> node_;
  std::vector<std::unique_ptr<YAML::Node>> scratch_;  // keeps looked-up child nodes alive
  std::set<std::string, std::less<>> known_;
};

}  // namespace plumb::config

#endif  // PLUMB_COMMON_CONFIG_CONFIG_MAP_H_

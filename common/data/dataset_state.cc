#include "common/data/dataset_state.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/json/parse_json.h"

namespace plumb::data {
namespace {

using Json = nlohmann::json;
constexpr int kStateVersion = 1;

}  // namespace

void DatasetStats::RecordSkip(absl::string_view reason, absl::string_view message) {
  ++lines_skipped;
  ++skipped_by_reason[std::string(reason)];
  if (first_messages.size() < kKeptMessages) first_messages.emplace_back(message);
}

std::string SerializeDataState(const SavedDataState& state) {
  const Json json = {
      {"version", kStateVersion},
      {"seed", state.seed},
      {"shuffle", state.shuffle},
      {"fingerprint", state.fingerprint},
      {"epoch", state.cursor.epoch},
      {"position", state.cursor.position},
      {"epoch_malformed", state.epoch_malformed},
      {"lines_read", state.lines_read},
      {"examples_yielded", state.examples_yielded},
      {"lines_skipped", state.lines_skipped},
      {"skipped_by_reason", state.skipped_by_reason},
  };
  return json.dump();
}

absl::StatusOr<SavedDataState> ParseDataState(absl::string_view text) {
  absl::StatusOr<Json> parsed = json_input::ParseJson(text, {.source = "data state"});
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::InvalidArgumentError("data state is not a JSON object written by SaveState");
  }
  const Json& json = *parsed;
  SavedDataState state;
  try {
    if (json.at("version").get<int>() != kStateVersion) {
      return absl::InvalidArgumentError(absl::StrCat("data state has version ",
                                                     json_input::EchoJson(json.at("version")),
                                                     "; expected ", kStateVersion));
    }
    state.seed = json.at("seed").get<uint64_t>();
    state.shuffle = json.at("shuffle").get<bool>();
    state.fingerprint = json.at("fingerprint").get<std::string>();
    state.cursor.epoch = json.at("epoch").get<uint64_t>();
    state.cursor.position = json.at("position").get<uint64_t>();
    state.epoch_malformed = json.at("epoch_malformed").get<int64_t>();
    state.lines_read = json.at("lines_read").get<int64_t>();
    state.examples_yielded = json.at("examples_yielded").get<int64_t>();
    state.lines_skipped = json.at("lines_skipped").get<int64_t>();
    state.skipped_by_reason = json.at("skipped_by_reason").get<std::map<std::string, int64_t>>();
  } catch (const Json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("data state is incomplete or mistyped: ", error.what()));
  }
  return state;
}

}  // namespace plumb::data

#include "common/checkpoint/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/safetensors_dtype.h"
#include "common/json/parse_json.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

using json_input::EchoJson;
using json_input::JsonTypeName;
using nlohmann::json;

constexpr char kMetadataKey[] = "__metadata__";

std::string Offsets(uint64_t begin, uint64_t end) {
  return absl::StrCat("[", begin, ", ", end, "]");
}

// Errors about one tensor: "<file>: tensor '<name>': <what>".
class EntryErrors {
 public:
  EntryErrors(absl::string_view source, const std::string& name)
      : source_(source), name_(Echo(name, kDefaultEchoBytes, '\'')) {}
  absl::Status DataLoss(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat(source_, ": tensor ", name_, ": ", what));
  }
  absl::Status Unimplemented(absl::string_view what) const {
    return absl::UnimplementedError(absl::StrCat(source_, ": tensor ", name_, ": ", what));
  }

 private:
  absl::string_view source_;
  std::string name_;  // echoed: bounded and quoted
};

absl::StatusOr<const json*> Field(const json& entry, const char* key, const EntryErrors& errors) {
  auto it = entry.find(key);
  if (it == entry.end()) return errors.DataLoss(absl::StrCat("entry has no \"", key, "\""));
  return &*it;
}

absl::Status ParseDType(const json& entry, const EntryErrors& errors, SafetensorsEntry& out) {
  ASSIGN_OR_RETURN(const json* dtype, Field(entry, "dtype", errors));
  if (!dtype->is_string()) {
    return errors.DataLoss(
        absl::StrCat("\"dtype\" is a ", JsonTypeName(*dtype), ", expected a string"));
  }
  out.dtype = dtype->get<std::string>();
  const SafetensorsDType* known = FindSafetensorsDType(out.dtype);
  if (known == nullptr) {
    return errors.DataLoss(absl::StrCat(
        "unknown dtype ", Echo(out.dtype),
        "; the format defines BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, "
        "F8_E4M3, F8_E5M2"));
  }
  if (!known->torch_type.has_value()) {
    return errors.Unimplemented(absl::StrCat("dtype ", out.dtype,
                                             " has no LibTorch 1.13 equivalent; convert the "
                                             "checkpoint to F32, BF16 or F16"));
  }
  out.scalar_type = *known->torch_type;
  out.element_size = known->element_size;
  return absl::OkStatus();
}

// Fills out.shape and returns the byte size numel × element size.
absl::StatusOr<uint64_t> ParseShape(const json& entry, const EntryErrors& errors,
                                    SafetensorsEntry& out) {
  ASSIGN_OR_RETURN(const json* shape, Field(entry, "shape", errors));
  if (!shape->is_array()) {
    return errors.DataLoss(
        absl::StrCat("\"shape\" is a ", JsonTypeName(*shape), ", expected an array of integers"));
  }
  uint64_t bytes = out.element_size;
  uint64_t numel = 1;
  for (const json& dim : *shape) {
    if (!dim.is_number_integer()) {
      return errors.DataLoss(absl::StrCat("shape ", EchoJson(*shape), " holds a ",
                                          JsonTypeName(dim), ", expected integers"));
    }
    if (dim.is_number_unsigned() ? dim.get<uint64_t>() > std::numeric_limits<int64_t>::max()
                                 : dim.get<int64_t>() < 0) {
      return errors.DataLoss(absl::StrCat("shape ", EchoJson(*shape), " has a ",
                                          dim.is_number_unsigned() ? "too large" : "negative",
                                          " dimension"));
    }
    const auto size = static_cast<uint64_t>(dim.get<int64_t>());
    if (__builtin_mul_overflow(bytes, size, &bytes) ||
        __builtin_mul_overflow(numel, size, &numel) ||
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return errors.DataLoss(absl::StrCat("shape ", EchoJson(*shape), " overflows 64-bit sizes"));
    }
    out.shape.push_back(static_cast<int64_t>(size));
  }
  return bytes;
}

absl::Status ParseOffsets(const json& entry, uint64_t expected_bytes, uint64_t data_bytes,
                          const EntryErrors& errors, SafetensorsEntry& out) {
  ASSIGN_OR_RETURN(const json* offsets, Field(entry, "data_offsets", errors));
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_integer() ||
      !(*offsets)[1].is_number_integer()) {
    return errors.DataLoss(
        absl::StrCat("data_offsets must be two integers [begin, end], got ", EchoJson(*offsets)));
  }
  if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    return errors.DataLoss(absl::StrCat("data_offsets ", EchoJson(*offsets), " are negative"));
  }
  out.begin = (*offsets)[0].get<uint64_t>();
  out.end = (*offsets)[1].get<uint64_t>();
  if (out.end < out.begin) {
    return errors.DataLoss(
        absl::StrCat("data_offsets ", Offsets(out.begin, out.end), ": end is before begin"));
  }
  if (out.end - out.begin != expected_bytes) {
    return errors.DataLoss(absl::StrCat("data_offsets ", Offsets(out.begin, out.end), " hold ",
                                        out.end - out.begin, " bytes but ", out.dtype, " shape ",
                                        FormatShape(out.shape), " needs ", expected_bytes));
  }
  if (out.end > data_bytes) {
    return errors.DataLoss(absl::StrCat("data_offsets ", Offsets(out.begin, out.end),
                                        " run past the end of the data buffer (", data_bytes,
                                        " bytes): the file is truncated"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SafetensorsEntry> ParseEntry(const std::string& name, const json& value,
                                            uint64_t data_bytes, absl::string_view source) {
  const EntryErrors errors(source, name);
  if (!value.is_object()) {
    return errors.DataLoss(absl::StrCat("entry is a ", JsonTypeName(value),
                                        ", expected an object with dtype, shape, data_offsets"));
  }
  SafetensorsEntry entry;
  entry.name = name;
  RETURN_IF_ERROR(ParseDType(value, errors, entry));
  ASSIGN_OR_RETURN(const uint64_t bytes, ParseShape(value, errors, entry));
  RETURN_IF_ERROR(ParseOffsets(value, bytes, data_bytes, errors, entry));
  return entry;
}

absl::StatusOr<SafetensorsMetadata> ParseMetadata(const json& value, absl::string_view source) {
  if (!value.is_object()) {
    return absl::DataLossError(absl::StrCat(source, ": ", kMetadataKey, " is a ",
                                            JsonTypeName(value),
                                            ", expected an object of strings"));
  }
  SafetensorsMetadata metadata;
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) {
      return absl::DataLossError(absl::StrCat(source, ": ", kMetadataKey, " key ",
                                              Echo(key, kDefaultEchoBytes, '\''), " is a ",
                                              JsonTypeName(text), ", expected a string"));
    }
    metadata.emplace(key, text.get<std::string>());
  }
  return metadata;
}

// The spec requires the tensors to tile [0, data_bytes) exactly. Zero-byte tensors may sit at any
// boundary between tensors (or at 0 / the end), but not inside another tensor.
absl::Status CheckTiling(std::vector<const SafetensorsEntry*> by_offset, uint64_t data_bytes,
                         absl::string_view source) {
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  uint64_t covered = 0;
  const SafetensorsEntry* previous = nullptr;  // the last tensor ending at `covered`
  for (const SafetensorsEntry* entry : by_offset) {
    if (entry->begin > covered) {
      return absl::DataLossError(
          absl::StrCat(source, ": bytes ", Offsets(covered, entry->begin),
                       " of the data buffer belong to no tensor (gap before tensor ",
                       Echo(entry->name, kDefaultEchoBytes, '\''), " at data_offsets ",
                       Offsets(entry->begin, entry->end), ")"));
    }
    if (entry->begin < covered) {
      return absl::DataLossError(
          absl::StrCat(source, ": tensor ", Echo(entry->name, kDefaultEchoBytes, '\''),
                       " (data_offsets ", Offsets(entry->begin, entry->end), ") overlaps tensor ",
                       Echo(previous->name, kDefaultEchoBytes, '\''), " (data_offsets ",
                       Offsets(previous->begin, previous->end), ")"));
    }
    covered = entry->end;
    previous = entry;
  }
  if (covered != data_bytes) {
    return absl::DataLossError(absl::StrCat(source, ": the data buffer has ", data_bytes - covered,
                                            " bytes after the last tensor (tensors cover ", covered,
                                            " of ", data_bytes, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view header_json,
                                                         uint64_t data_bytes,
                                                         absl::string_view source) {
  const std::string header_source = absl::StrCat(source, ": header");
  ASSIGN_OR_RETURN(json root,
                   json_input::ParseJson(header_json, {.source = header_source,
                                                       .error_code = absl::StatusCode::kDataLoss,
                                                       .reject_duplicate_keys = true,
                                                       .top_level_key_noun = "tensor name"}));
  if (!root.is_object()) {
    return absl::DataLossError(absl::StrCat(source, ": header is a JSON ", JsonTypeName(root),
                                            ", expected an object of tensors"));
  }
  const size_t tensors = root.size() - (root.contains(kMetadataKey) ? 1 : 0);
  if (tensors > kMaxSafetensorsTensors) {
    return absl::DataLossError(absl::StrCat(source, ": header lists ", tensors,
                                            " tensors; at most ", kMaxSafetensorsTensors,
                                            " per file are accepted"));
  }
  SafetensorsHeader header;
  header.data_bytes = data_bytes;
  header.entries.reserve(tensors);
  for (const auto& [name, value] : root.items()) {  // json objects iterate in key order
    if (name == kMetadataKey) {
      ASSIGN_OR_RETURN(header.metadata, ParseMetadata(value, source));
      continue;
    }
    ASSIGN_OR_RETURN(SafetensorsEntry entry, ParseEntry(name, value, data_bytes, source));
    header.entries.push_back(std::move(entry));
  }
  std::vector<const SafetensorsEntry*> by_offset;
  by_offset.reserve(header.entries.size());
  for (const SafetensorsEntry& entry : header.entries) by_offset.push_back(&entry);
  RETURN_IF_ERROR(CheckTiling(std::move(by_offset), data_bytes, source));
  return header;
}

}  // namespace plumb::checkpoint

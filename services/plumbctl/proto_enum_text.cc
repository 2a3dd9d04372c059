#include "services/plumbctl/proto_enum_text.h"

#include <google/protobuf/descriptor.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/echo.h"

namespace plumb::plumbctl {
namespace {

// "JOB_STATE_" for JobState: the upper-snake-case enum name and an underscore.
std::string PrefixOf(const google::protobuf::EnumDescriptor* descriptor) {
  std::string prefix;
  for (char c : descriptor->name()) {
    if (absl::ascii_isupper(c) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(c);
  }
  return prefix + "_";
}

std::string ShortName(const google::protobuf::EnumValueDescriptor* value,
                      const std::string& prefix) {
  const std::string& name = value->name();
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

}  // namespace

std::string EnumText(const google::protobuf::EnumDescriptor* descriptor, int value) {
  const google::protobuf::EnumValueDescriptor* found = descriptor->FindValueByNumber(value);
  if (found == nullptr) return absl::StrCat(value);
  return ShortName(found, PrefixOf(descriptor));
}

absl::StatusOr<int> ParseEnumText(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view text, absl::string_view flag) {
  const std::string prefix = PrefixOf(descriptor);
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, prefix)) upper = prefix + upper;
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (value->number() == 0) continue;  // UNSPECIFIED means "no filter": not a choice
    if (value->name() == upper) return value->number();
    names.push_back(absl::AsciiStrToLower(ShortName(value, prefix)));
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": unknown value ",
                                                 Echo(std::string_view(text.data(), text.size())),
                                                 "; expected one of ", absl::StrJoin(names, ", ")));
}

}  // namespace plumb::plumbctl

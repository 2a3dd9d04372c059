#include "common/rpc/message_checks.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/echo.h"

namespace plumb::rpc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Path(absl::string_view root, const FieldDescriptor* field, int index) {
  std::string path = root.empty() ? field->name() : absl::StrCat(root, ".", field->name());
  if (index >= 0) absl::StrAppend(&path, "[", index, "]");
  return path;
}

absl::Status NotFinite(const std::string& path, double value) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": must be finite (got ", value, ")"));
}

absl::Status CheckField(const Message& message, const Reflection& reflection,
                        const FieldDescriptor* field, absl::string_view root);

absl::Status CheckMessage(const Message& message, absl::string_view root) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (absl::Status s = CheckField(message, reflection, field, root); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckField(const Message& message, const Reflection& reflection,
                        const FieldDescriptor* field, absl::string_view root) {
  const bool repeated = field->is_repeated();
  const int count = repeated ? reflection.FieldSize(message, field) : 1;
  for (int i = 0; i < count; ++i) {
    const int index = repeated ? i : -1;
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const float v = repeated ? reflection.GetRepeatedFloat(message, field, i)
                                 : reflection.GetFloat(message, field);
        if (!std::isfinite(v)) return NotFinite(Path(root, field, index), v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double v = repeated ? reflection.GetRepeatedDouble(message, field, i)
                                  : reflection.GetDouble(message, field);
        if (!std::isfinite(v)) return NotFinite(Path(root, field, index), v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const int number = repeated ? reflection.GetRepeatedEnumValue(message, field, i)
                                    : reflection.GetEnumValue(message, field);
        if (field->enum_type()->FindValueByNumber(number) == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(Path(root, field, index), ": ", number,
                                                         " is not a ", field->enum_type()->name(),
                                                         " value"));
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Message& child = repeated ? reflection.GetRepeatedMessage(message, field, i)
                                        : reflection.GetMessage(message, field);
        if (absl::Status s = CheckMessage(child, Path(root, field, index)); !s.ok()) return s;
        break;
      }
      default:
        return absl::OkStatus();  // integers, bools and strings have no invalid values here
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMessageValues(const Message& message, absl::string_view root) {
  return CheckMessage(message, root);
}

absl::Status CheckPromptMetadata(const google::protobuf::Map<std::string, std::string>& metadata,
                                 absl::string_view path) {
  return CheckStringMap(metadata, path, 32, 64, 1024);
}

absl::Status CheckStringMap(const google::protobuf::Map<std::string, std::string>& map,
                            absl::string_view path, size_t max_entries, size_t max_key_bytes,
                            size_t max_value_bytes) {
  if (map.size() > max_entries) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", map.size(), " entries; at most ", max_entries));
  }
  for (const auto& [key, value] : map) {
    if (key.empty() || key.size() > max_key_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key ", Echo(key, 64), " must be 1..", max_key_bytes, " bytes"));
    }
    if (value.size() > max_value_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(path, "[", Echo(key, 64), "]: value of ",
                                                     value.size(), " bytes; at most ",
                                                     max_value_bytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb::rpc

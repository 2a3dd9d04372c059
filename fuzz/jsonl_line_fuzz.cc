// One JSONL dataset line, parsed under every line format. The first byte picks the format so
// the corpus can hold rows of each.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/data/format_spec.h"
#include "common/data/line_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<std::string>& names = plumb::data::AllFormatNames();
  const std::string& name = names[data[0] % names.size()];
  const plumb::data::FormatSpec spec =
      plumb::data::DefaultFormatSpec(*plumb::data::FormatKindFromName(name));
  const std::string line(reinterpret_cast<const char*>(data + 1), size - 1);
  plumb::data::MalformedReason reason;
  (void)plumb::data::ParseLine(line, spec, {.file = "train.jsonl", .line = 1}, &reason);
  return 0;
}

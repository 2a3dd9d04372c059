// `plumb-model tokenize`: the token ids (and, for people, the token spellings) of texts under a
// model's tokenizer or any tokenizer LoadTokenizer accepts.
//
// Thread safety: runs on the caller's thread.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_TOKENIZE_COMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_TOKENIZE_COMMAND_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/plumb-model/subcommand.h"

namespace plumb::model_tool {

struct TokenizeOptions {
  std::string model;      // a model folder, or
  std::string tokenizer;  // "byte" or a tokenizer path (exactly one of the two)
  bool special = false;   // recognise special-token spellings in the text
  std::vector<std::string> texts;
  // Without texts, all of this stream is one text (bytes kept exactly); may be null.
  std::istream* stdin_text = nullptr;
};

absl::StatusOr<CommandOutput> RunTokenize(const TokenizeOptions& options);

// `in` is read when no TEXT is given.
Subcommand AddTokenizeCommand(CLI::App& parent, std::istream* in);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_TOKENIZE_COMMAND_H_

#include "services/plumb-model/tokenize_command.h"

#include <CLI/CLI.hpp>
#include <iterator>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/tokenizer/load_tokenizer.h"
#include "services/plumb-model/id_list.h"
#include "services/plumb-model/model_folder.h"
#include "services/plumb-model/model_summary.h"
#include "services/plumb-model/terminal_text.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> ChosenTokenizer(
    const TokenizeOptions& options) {
  if (options.model.empty() == options.tokenizer.empty()) {
    return UsageError("give exactly one of --model DIR and --tokenizer byte|PATH");
  }
  if (!options.model.empty()) {
    if (absl::Status status = CheckModelFolder(options.model); !status.ok()) return status;
    return LoadModelFolderTokenizer(options.model);
  }
  return tokenizer::LoadTokenizer(options.tokenizer);
}

}  // namespace

absl::StatusOr<CommandOutput> RunTokenize(const TokenizeOptions& options) {
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded = ChosenTokenizer(options);
  if (!loaded.ok()) return loaded.status();
  const tokenizer::Tokenizer& tokenizer = **loaded;
  std::vector<std::string> texts = options.texts;
  if (texts.empty() && options.stdin_text != nullptr) {
    texts.emplace_back(std::istreambuf_iterator<char>(*options.stdin_text),
                       std::istreambuf_iterator<char>());
  }

  CommandOutput output;
  output.json = {{"tokenizer", TokenizerToJson(tokenizer)},
                 {"texts", nlohmann::ordered_json::array()}};
  output.text = absl::StrCat("tokenizer  ", TokenizerText(tokenizer), "\n");
  for (const std::string& text : texts) {
    absl::StatusOr<std::vector<int32_t>> encoded =
        tokenizer.TryEncode(text, tokenizer::EncodeOptions{.allow_special = options.special});
    if (!encoded.ok()) return encoded.status();
    const std::vector<int32_t>& ids = *encoded;
    std::vector<std::string> tokens;
    for (const int32_t id : ids) tokens.push_back(tokenizer.IdToToken(id).value_or("?"));
    output.json["texts"].push_back({{"text", text}, {"ids", ids}, {"tokens", tokens}});
    absl::StrAppend(&output.text, QuoteForTerminal(text), ": ", ids.size(), " tokens\n  ids     ",
                    FormatIdList(std::vector<int64_t>(ids.begin(), ids.end())), "\n  tokens  ",
                    absl::StrJoin(tokens, " "), "\n");
  }
  return output;
}

Subcommand AddTokenizeCommand(CLI::App& parent, std::istream* in) {
  auto options = std::make_shared<TokenizeOptions>();
  options->stdin_text = in;
  CLI::App* app = parent.add_subcommand(
      "tokenize", "Token ids of texts (the arguments, or all of stdin when there are none)");
  app->add_option("--model", options->model, "Model folder whose tokenizer to use")
      ->type_name("DIR");
  app->add_option("--tokenizer", options->tokenizer,
                  "byte, a tokenizer.json, or a folder with tokenizer.json or GPT-2's files")
      ->type_name("byte|PATH");
  app->add_flag("--special", options->special,
                "Encode special-token spellings (e.g. <eos>) in the text as their ids");
  app->add_option("text", options->texts, "Texts to encode")->type_name("TEXT");
  return {app, [options] { return RunTokenize(*options); }};
}

}  // namespace plumb::model_tool

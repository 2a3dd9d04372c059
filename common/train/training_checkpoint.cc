#include "common/train/training_checkpoint.h"

#include <torch/torch.h>
#include <xxhash.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/json/parse_json.h"
#include "common/status/status_macros.h"

namespace plumb::train {
namespace {

namespace fs = std::filesystem;
constexpr const char* kFiles[] = {"weights.pt", "optimizer.pt", "rng.pt"};

// Archive keys cannot contain '.', which parameter names do.
std::string ArchiveKey(const std::string& name) { return absl::StrReplaceAll(name, {{".", "__"}}); }

absl::StatusOr<std::string> FileChecksum(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": missing"));
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), buffer.size());
    XXH3_64bits_update(state, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  const uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return absl::StrFormat("%016x", digest);
}

absl::Status WriteText(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot rename ", tmp.string(), ": ", ec.message()));
  return absl::OkStatus();
}

std::string StepName(int64_t step) { return absl::StrFormat("step-%08d", step); }

// Loads `file` into a stateless AdamW over the same parameters and checks the state against
// them, so that a checkpoint of another kind of session is refused before anything changes.
// Other optimizers are not checked ahead.
absl::Status CheckOptimizerState(const fs::path& file, torch::optim::Optimizer& optimizer) {
  auto* adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer);
  if (adamw == nullptr) return absl::OkStatus();
  torch::optim::AdamW scratch(adamw->param_groups());
  torch::serialize::InputArchive archive;
  archive.load_from(file.string());
  try {
    scratch.load(archive);
  } catch (const c10::Error& e) {
    // A check, not the model boundary: LibTorch reports a state of other parameter groups only
    // by throwing, and this is the caller's mismatch, not an internal error.
    return absl::InvalidArgumentError(absl::StrCat(
        file.string(), " does not fit this session's optimizer: ", e.what_without_backtrace()));
  }
  for (const torch::optim::OptimizerParamGroup& group : scratch.param_groups()) {
    for (const at::Tensor& p : group.params()) {
      // LibTorch 1.13 keys an optimizer's state by the parameter's TensorImpl address, as text.
      auto it = scratch.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it == scratch.state().end()) continue;
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      for (const at::Tensor* moment : {&state.exp_avg(), &state.exp_avg_sq()}) {
        if (moment->sizes() != p.sizes() || moment->scalar_type() != p.scalar_type()) {
          return absl::InvalidArgumentError(absl::StrCat(
              file.string(), " does not fit this session's optimizer: a state of shape [",
              absl::StrJoin(moment->sizes(), ", "), "] and dtype ",
              c10::toString(moment->scalar_type()), " for a parameter of shape [",
              absl::StrJoin(p.sizes(), ", "), "] and dtype ", c10::toString(p.scalar_type())));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<fs::path> SaveTrainingCheckpoint(const fs::path& dir, model::TransformerImpl& model,
                                                torch::optim::Optimizer& optimizer,
                                                const RunState& state, int64_t keep) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  const fs::path final_dir = dir / StepName(state.step);
  const fs::path tmp_dir = dir / absl::StrCat(".", StepName(state.step), ".tmp");
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  {
    torch::serialize::OutputArchive archive;
    for (const auto& item : model.named_parameters()) {
      archive.write(ArchiveKey(item.key()), item.value().detach());
    }
    archive.save_to((tmp_dir / "weights.pt").string());
  }
  {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to((tmp_dir / "optimizer.pt").string());
  }
  {
    torch::serialize::OutputArchive archive;
    archive.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
    archive.save_to((tmp_dir / "rng.pt").string());
  }
  nlohmann::json json = {{"step", state.step},
                         {"total_steps", state.total_steps},
                         {"kind", state.kind},
                         {"data_state", state.data_state},
                         {"world_size", state.world_size},
                         {"batch_size", state.batch_size},
                         {"tokens_seen", state.tokens_seen}};
  for (const char* file : kFiles) {
    ASSIGN_OR_RETURN(json["checksums"][file], FileChecksum(tmp_dir / file));
  }
  RETURN_IF_ERROR(WriteText(tmp_dir / "state.json", json.dump(2) + "\n"));
  fs::remove_all(final_dir, ec);
  fs::rename(tmp_dir, final_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot publish ", final_dir.string(), ": ", ec.message()));
  RETURN_IF_ERROR(WriteText(dir / "latest", StepName(state.step) + "\n"));
  // Retention: the newest `keep` step folders stay.
  std::vector<fs::path> steps;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step-", 0) == 0) steps.push_back(entry.path());
  }
  std::sort(steps.begin(), steps.end());
  for (size_t i = 0; i + keep < steps.size(); ++i) fs::remove_all(steps[i], ec);
  return final_dir;
}

std::optional<fs::path> LatestCheckpoint(const fs::path& dir) {
  std::ifstream in(dir / "latest");
  std::string name;
  if (in && std::getline(in, name) && !name.empty() && fs::exists(dir / name / "state.json")) {
    return dir / name;
  }
  return std::nullopt;
}

absl::StatusOr<RunState> LoadTrainingCheckpoint(const fs::path& step_dir,
                                                model::TransformerImpl& model,
                                                torch::optim::Optimizer& optimizer) {
  const std::string where = step_dir.string();
  std::ifstream in(step_dir / "state.json");
  if (!in) return absl::NotFoundError(absl::StrCat(where, ": no state.json"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Bounded like every JSON from outside (depth, NUL bytes): a client may name this folder.
  const std::string source = where + "/state.json";
  ASSIGN_OR_RETURN(
      nlohmann::json json,
      json_input::ParseJson(text, {.source = source, .error_code = absl::StatusCode::kDataLoss}));
  RunState state;
  try {
    state.step = json.at("step").get<int64_t>();
    state.total_steps = json.at("total_steps").get<int64_t>();
    state.kind = json.at("kind").get<std::string>();
    state.data_state = json.at("data_state").get<std::string>();
    state.world_size = json.at("world_size").get<int>();
    state.batch_size = json.at("batch_size").get<int64_t>();
    state.tokens_seen = json.value("tokens_seen", int64_t{0});
    for (const char* file : kFiles) {
      const std::string expected = json.at("checksums").at(file).get<std::string>();
      ASSIGN_OR_RETURN(std::string actual, FileChecksum(step_dir / file));
      if (actual != expected) {
        return absl::DataLossError(absl::StrCat(where, "/", file, ": checksum ", actual,
                                                " does not match state.json (", expected,
                                                "); the checkpoint is corrupt"));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(where, "/state.json: ", e.what()));
  }
  // Read every tensor and check names, shapes, dtypes and the optimizer's state before touching
  // the model: a checkpoint of another kind of session (a reward model's, a LoRA session's) or
  // dtype is refused whole.
  std::map<std::string, at::Tensor> loaded;
  torch::serialize::InputArchive weights;
  weights.load_from((step_dir / "weights.pt").string());
  std::vector<std::string> problems;
  std::set<std::string> expected;
  for (const auto& item : model.named_parameters()) {
    expected.insert(ArchiveKey(item.key()));
    at::Tensor tensor;
    if (!weights.try_read(ArchiveKey(item.key()), tensor)) {
      problems.push_back(absl::StrCat(item.key(), " is missing"));
    } else if (tensor.sizes() != item.value().sizes()) {
      problems.push_back(absl::StrCat(item.key(), " has shape [",
                                      absl::StrJoin(tensor.sizes(), ", "), "], the model has [",
                                      absl::StrJoin(item.value().sizes(), ", "), "]"));
    } else if (tensor.scalar_type() != item.value().scalar_type()) {
      problems.push_back(absl::StrCat(item.key(), " has dtype ",
                                      c10::toString(tensor.scalar_type()), ", the model has ",
                                      c10::toString(item.value().scalar_type())));
    } else {
      loaded[item.key()] = tensor;
    }
  }
  for (const std::string& key : weights.keys()) {
    if (!expected.contains(key)) {
      problems.push_back(absl::StrCat(absl::StrReplaceAll(key, {{"__", "."}}),
                                      " is not a parameter of the model"));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "/weights.pt does not fit the model: ", absl::StrJoin(problems, "; ")));
  }
  RETURN_IF_ERROR(CheckOptimizerState(step_dir / "optimizer.pt", optimizer));
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model.named_parameters()) item.value().copy_(loaded[item.key()]);
  }
  {
    torch::serialize::InputArchive archive;
    archive.load_from((step_dir / "optimizer.pt").string());
    optimizer.load(archive);
  }
  {
    torch::serialize::InputArchive archive;
    archive.load_from((step_dir / "rng.pt").string());
    at::Tensor rng;
    archive.read("cpu", rng);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  }
  return state;
}

}  // namespace plumb::train

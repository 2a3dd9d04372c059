// Plumb's safetensors files against an independent reader and writer written by hand in Python
// (testdata/*.py: struct + json + torch, no safetensors package). Needs /usr/bin/python3 with
// torch and numpy; without them the tests fail and say to run scripts/setup.sh.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_test_files.h"
#include "common/checkpoint/safetensors_dtype.h"
#include "common/checkpoint/safetensors_reader.h"
#include "common/checkpoint/safetensors_writer.h"

namespace plumb::checkpoint {
namespace {

using ::plumb::checkpoint::testing::BitEqual;
using ::plumb::checkpoint::testing::ReadBytes;
using ::plumb::checkpoint::testing::ScratchDir;
using ::testing::ElementsAreArray;

struct PythonRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::filesystem::path Script(const char* name) {
  const char* source_dir = std::getenv("PLUMB_SOURCE_DIR");
  return std::filesystem::path(source_dir != nullptr ? source_dir : ".") / "common" / "checkpoint" /
         "testdata" / name;
}

// Runs /usr/bin/python3 `script` `argument`; stderr goes to a file beside `argument`.
PythonRun RunPython(const char* script, const std::filesystem::path& argument) {
  const std::string err_path = argument.string() + ".stderr";
  const std::string command = absl::StrCat("/usr/bin/python3 '", Script(script).string(), "' '",
                                           argument.string(), "' 2>'", err_path, "'");
  PythonRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;)
    run.out.append(buffer, got);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = ReadBytes(err_path);
  return run;
}

// Fails (never skips) when Python cannot run the script: the interop check must not vanish
// silently on a machine set up by hand.
void ExpectPythonRan(const PythonRun& run) {
  ASSERT_NE(run.exit_code, 3) << run.err
                              << "\n/usr/bin/python3 lacks torch or numpy: run "
                                 "scripts/setup.sh";
  ASSERT_NE(run.exit_code, 127) << run.err << "\n/usr/bin/python3 is missing: run scripts/setup.sh";
  ASSERT_EQ(run.exit_code, 0) << run.err;
}

std::string HexOf(const at::Tensor& tensor) {
  const at::Tensor data = tensor.contiguous();
  return absl::BytesToHexString(absl::string_view(static_cast<const char*>(data.data_ptr()),
                                                  data.numel() * data.element_size()));
}

TEST(SafetensorsPythonInteropTest, PythonReaderSeesExactlyWhatPlumbWrote) {
  at::manual_seed(11);
  const TensorMap tensors = {
      {"model.embed_tokens.weight", at::randn({7, 5}).to(at::kBFloat16)},
      {"model.layers.0.mlp.up_proj.weight", at::randn({3, 5})},
      {"model.layers.0.input_layernorm.weight", at::randn({5}).to(at::kHalf)},
      {"ids",
       at::tensor({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{1} << 53}, at::kLong)},
      {"mask", at::tensor({std::numeric_limits<int32_t>::max(), 0, -7}, at::kInt)},
      {"transposed", at::arange(6, at::kFloat).reshape({2, 3}).t()},
      {"scalar", at::scalar_tensor(-0.5, at::kFloat)},
      {"empty", at::empty({0, 3}, at::kBFloat16)},
  };
  const SafetensorsMetadata metadata = {{"format", "pt"}, {"plumb.step", "12"}};
  const std::filesystem::path path = ScratchDir() / "plumb.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata).ok());

  const PythonRun run = RunPython("read_safetensors.py", path);
  ExpectPythonRan(run);
  const nlohmann::json report = nlohmann::json::parse(run.out);
  EXPECT_EQ(report["header_length"].get<uint64_t>() % 8, 0u);
  EXPECT_EQ(report["metadata"].get<SafetensorsMetadata>(), metadata);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  EXPECT_THAT(report["key_order"].get<std::vector<std::string>>(), ElementsAreArray(names));
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    const nlohmann::json& seen = report["tensors"].at(name);
    EXPECT_EQ(seen["dtype"].get<std::string>(),
              std::string(SafetensorsDTypeFor(tensor.scalar_type())->name));
    EXPECT_EQ(seen["shape"].get<std::vector<int64_t>>(), tensor.sizes().vec());
    EXPECT_EQ(seen["hex"], HexOf(tensor));
    const double sum = tensor.to(at::kDouble).sum().item<double>();
    EXPECT_NEAR(seen["sum"].get<double>(), sum, 1e-9 * (1 + std::abs(sum)));
  }
}

// The tensors testdata/write_safetensors.py writes, rebuilt from the same exact values.
TensorMap PythonWriterTensors() {
  return {
      {"embed.bf16",
       at::tensor({1.5, -2.25, std::ldexp(1.0, 100), 0.0078125, -0.0, -std::ldexp(1.0, -126)},
                  at::kDouble)
           .reshape({2, 3})
           .to(at::kBFloat16)},
      {"layer.f32", at::arange(12, at::kFloat).reshape({3, 4}) / 7},
      {"half.f16",
       at::tensor({0.5, -1.0, 65504.0, std::ldexp(1.0, -24)}, at::kDouble).to(at::kHalf)},
      {"ids.i64",
       at::tensor({(int64_t{1} << 40) + 1, int64_t{-3}, (int64_t{1} << 53) + 1}, at::kLong)},
      {"mask.i32",
       at::tensor({-1, 0, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()},
                  at::kInt)
           .reshape({2, 2})},
      {"scalar.f32", at::scalar_tensor(3.25, at::kFloat)},
      {"empty.f32", at::empty({0, 4}, at::kFloat)},
  };
}

TEST(SafetensorsPythonInteropTest, PlumbReadsAFileWrittenByHandInPython) {
  const std::filesystem::path path = ScratchDir() / "python.safetensors";
  const PythonRun run = RunPython("write_safetensors.py", path);
  ExpectPythonRan(run);
  const auto written_hex = nlohmann::json::parse(run.out).get<std::map<std::string, std::string>>();

  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->metadata,
            (SafetensorsMetadata{{"format", "pt"}, {"writer", "write_safetensors.py"}}));
  const TensorMap expected = PythonWriterTensors();
  ASSERT_EQ(read->tensors.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(read->tensors.contains(name));
    const at::Tensor& got = read->tensors.at(name);
    EXPECT_EQ(HexOf(got), written_hex.at(name));  // the bytes Python wrote
    EXPECT_TRUE(BitEqual(got, tensor)) << got << "\nexpected\n" << tensor;  // the values it meant
  }
}

}  // namespace
}  // namespace plumb::checkpoint

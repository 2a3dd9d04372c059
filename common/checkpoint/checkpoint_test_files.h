// Test-only helpers for checkpoint tests: a fresh scratch directory per test, raw file bytes, and
// bit-exact tensor comparison.
#ifndef PLUMB_COMMON_CHECKPOINT_CHECKPOINT_TEST_FILES_H_
#define PLUMB_COMMON_CHECKPOINT_CHECKPOINT_TEST_FILES_H_

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace plumb::checkpoint::testing {

// An empty directory under ::testing::TempDir(), unique to the running test and process.
inline std::filesystem::path ScratchDir() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat(test->test_suite_name(), ".", test->name(), ".", ::getpid());
  std::replace(name.begin(), name.end(), '/', '_');  // parameterised test names
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "plumb_checkpoint" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void WriteBytes(const std::filesystem::path& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The 8-byte little-endian length prefix of a safetensors file.
inline std::string LengthPrefix(uint64_t length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes;
}

// A safetensors file from a header written by hand and the data buffer.
inline std::string SafetensorsBytes(absl::string_view header_json, absl::string_view data) {
  return absl::StrCat(LengthPrefix(header_json.size()), header_json, data);
}

// Same dtype, same shape, same bytes (NaN payloads and -0.0 included).
inline bool BitEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  if (a.numel() == 0) return true;
  const at::Tensor ca = a.contiguous();
  const at::Tensor cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

// Every file in `dir` whose name contains ".tmp." (left-over temporary files).
inline int CountTemporaryFiles(const std::filesystem::path& dir) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) ++count;
  }
  return count;
}

}  // namespace plumb::checkpoint::testing

#endif  // PLUMB_COMMON_CHECKPOINT_CHECKPOINT_TEST_FILES_H_

#include "common/status/torch_status.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <new>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"

namespace plumb {
namespace {

// The Status TorchBoundary gives when `thrower` throws, doing "scoring".
template <typename Thrower>
absl::Status BoundaryOf(Thrower thrower) {
  return TorchBoundary("scoring", [&]() -> absl::Status {
    thrower();
    return absl::OkStatus();
  });
}

TEST(TorchBoundaryTest, AValueOrAResultPassesThroughUnchanged) {
  absl::StatusOr<int> value = TorchBoundary("adding", []() -> absl::StatusOr<int> { return 7; });
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  const absl::Status refused =
      TorchBoundary("adding", [] { return absl::FailedPreconditionError("no session"); });
  EXPECT_EQ(refused, absl::FailedPreconditionError("no session"));
}

TEST(TorchBoundaryTest, ATorchCheckIsInternalNamingTheWorkWithoutABacktrace) {
  const absl::Status status = BoundaryOf([] { TORCH_CHECK(false, "the cache is corrupt"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StartsWith(status.message(), "scoring: the cache is corrupt")) << status;
  EXPECT_FALSE(absl::StrContains(status.message(), "Exception raised from")) << status;
}

TEST(TorchBoundaryTest, ValueIndexAndTypeChecksAreInvalidArgument) {
  const absl::Status value = BoundaryOf([] { TORCH_CHECK_VALUE(false, "beta must be > 0"); });
  EXPECT_EQ(value.code(), absl::StatusCode::kInvalidArgument) << value;
  EXPECT_TRUE(absl::StartsWith(value.message(), "scoring: beta must be > 0")) << value;
  const absl::Status index = BoundaryOf([] { TORCH_CHECK_INDEX(false, "index 70 of 64"); });
  EXPECT_EQ(index.code(), absl::StatusCode::kInvalidArgument) << index;
  const absl::Status type = BoundaryOf([] { TORCH_CHECK_TYPE(false, "labels must be bool"); });
  EXPECT_EQ(type.code(), absl::StatusCode::kInvalidArgument) << type;
}

TEST(TorchBoundaryTest, AnOutOfRangeTokenIdInARealOperatorIsInvalidArgument) {
  const at::Tensor table = torch::zeros({4, 2});
  const absl::Status status = BoundaryOf([&] { at::embedding(table, torch::tensor({1, 9})); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

TEST(TorchBoundaryTest, AShapeMismatchInARealOperatorIsInternal) {
  const absl::Status status = BoundaryOf([] {
    at::matmul(torch::zeros({2, 3}), torch::zeros({4, 5}));
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "scoring: ")) << status;
}

TEST(TorchBoundaryTest, NotImplementedIsUnimplemented) {
  const absl::Status status =
      BoundaryOf([] { TORCH_CHECK_NOT_IMPLEMENTED(false, "no kernel for Half"); });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
}

TEST(TorchBoundaryTest, OutOfMemoryIsResourceExhausted) {
  const absl::Status torch_oom =
      BoundaryOf([] { TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory"); });
  EXPECT_EQ(torch_oom.code(), absl::StatusCode::kResourceExhausted) << torch_oom;
  EXPECT_TRUE(absl::StartsWith(torch_oom.message(), "scoring: CUDA out of memory")) << torch_oom;
  const absl::Status bad_alloc = BoundaryOf([] { throw std::bad_alloc(); });
  EXPECT_EQ(bad_alloc.code(), absl::StatusCode::kResourceExhausted) << bad_alloc;
  EXPECT_EQ(bad_alloc.message(), "scoring: out of memory");
}

// LibTorch 1.13 throws a plain c10::Error when the CPU allocator fails; it once read INTERNAL.
TEST(TorchBoundaryTest, ACpuAllocationThatFailsIsResourceExhausted) {
  const absl::Status status = BoundaryOf([] { torch::empty({int64_t{1} << 46}); });  // 256 TiB
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "scoring: DefaultCPUAllocator: ")) << status;
}

TEST(TorchBoundaryTest, OtherExceptionsAreInternal) {
  const absl::Status runtime = BoundaryOf([] { throw std::runtime_error("disk gone"); });
  EXPECT_EQ(runtime, absl::InternalError("scoring: disk gone"));
  const absl::Status unknown = BoundaryOf([] { throw 42; });
  EXPECT_EQ(unknown, absl::InternalError("scoring: an unknown exception"));
}

TEST(TorchBoundaryTest, WhatIsReadWhenTheExceptionIsCaught) {
  std::string what = "starting";
  const absl::StatusOr<int> result = TorchBoundary(what, [&]() -> absl::StatusOr<int> {
    what = "step 12: evaluation";
    TORCH_CHECK(false, "boom");
    return 0;
  });
  EXPECT_TRUE(absl::StartsWith(result.status().message(), "step 12: evaluation: boom"))
      << result.status();
}

TEST(TorchBoundaryTest, AnEmptyWhatAddsNoPrefix) {
  const absl::Status status =
      TorchBoundary("", []() -> absl::Status { throw std::runtime_error("plain"); });
  EXPECT_EQ(status, absl::InternalError("plain"));
}

}  // namespace
}  // namespace plumb

#include "services/plumb-coordinator/job_record_checks.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::coordinator {
namespace {

absl::Status CheckBytes(absl::string_view value, size_t max, absl::string_view field,
                        absl::string_view name) {
  if (value.size() <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("%s.%s: %d bytes; at most %d", field, name, value.size(), max));
}

absl::Status CheckNonNegative(int64_t value, absl::string_view field, absl::string_view name) {
  if (value >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrFormat("%s.%s: %d is negative", field, name, value));
}

absl::Status CheckMetrics(const MetricMap& metrics, absl::string_view field) {
  if (metrics.size() > kMaxMetrics) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s.metrics: %d entries; at most %d", field, metrics.size(), kMaxMetrics));
  }
  for (const auto& [name, value] : metrics) {
    if (name.empty() || name.size() > kMaxMetricNameBytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s.metrics: name %s must have 1 to %d bytes", field, Quoted(name), kMaxMetricNameBytes));
    }
  }
  return absl::OkStatus();
}

// Stage, iteration and round of a position in a job.
absl::Status CheckPosition(int32_t stage_index, int32_t iteration, int32_t round,
                           absl::string_view field) {
  RETURN_IF_ERROR(CheckNonNegative(stage_index, field, "stage_index"));
  RETURN_IF_ERROR(CheckNonNegative(iteration, field, "iteration"));
  return CheckNonNegative(round, field, "round");
}

}  // namespace

std::string Quoted(absl::string_view value) {
  return Echo(std::string_view(value.data(), value.size()));
}

void CutFreeText(std::string& text) {
  if (text.size() <= kMaxFreeTextBytes) return;
  constexpr absl::string_view kCut = "...";
  size_t end = kMaxFreeTextBytes - kCut.size();
  // Back off continuation bytes (10xxxxxx) so no UTF-8 sequence is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  text.resize(end);
  text.append(kCut.data(), kCut.size());
}

absl::Status CheckJobId(absl::string_view job_id, absl::string_view field) {
  if (job_id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (job_id.size() > kMaxJobIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %d bytes; at most %d", field, job_id.size(), kMaxJobIdBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckState(JobState state, absl::string_view field) {
  const int value = static_cast<int>(state);
  if (value < 0 || value > kMaxJobStateValue) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", value, " is not a JobState"));
  }
  return absl::OkStatus();
}

absl::Status CheckNewJob(const JobRecord& job) {
  if (!job.job_id.empty()) RETURN_IF_ERROR(CheckJobId(job.job_id, "job.job_id"));
  if (job.owner.empty()) return absl::InvalidArgumentError("job.owner: empty");
  RETURN_IF_ERROR(CheckBytes(job.owner, kMaxOwnerBytes, "job", "owner"));
  RETURN_IF_ERROR(CheckBytes(job.name, kMaxJobNameBytes, "job", "name"));
  RETURN_IF_ERROR(CheckNonNegative(job.kind, "job", "kind"));
  RETURN_IF_ERROR(
      CheckBytes(job.idempotency_key, kMaxIdempotencyKeyBytes, "job", "idempotency_key"));
  RETURN_IF_ERROR(CheckBytes(job.spec_hash, kMaxSpecHashBytes, "job", "spec_hash"));
  if (!job.idempotency_key.empty() && job.spec_hash.empty()) {
    return absl::InvalidArgumentError("job.spec_hash: required with an idempotency_key");
  }
  RETURN_IF_ERROR(CheckBytes(job.spec, kMaxSpecBytes, "job", "spec"));
  RETURN_IF_ERROR(CheckNonNegative(job.max_retries, "job", "max_retries"));
  if (job.labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(
        absl::StrFormat("job.labels: %d entries; at most %d", job.labels.size(), kMaxLabels));
  }
  for (const auto& [key, value] : job.labels) {
    if (key.empty() || key.size() > kMaxLabelKeyBytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "job.labels: key %s must have 1 to %d bytes", Quoted(key), kMaxLabelKeyBytes));
    }
    if (value.size() > kMaxLabelValueBytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "job.labels[%s]: %d bytes; at most %d", Quoted(key), value.size(), kMaxLabelValueBytes));
    }
  }
  return CheckStatus(job.status, "job.status");
}

absl::Status CheckStatus(const JobStatusRecord& status, absl::string_view field) {
  RETURN_IF_ERROR(CheckState(status.state, absl::StrCat(field, ".state")));
  if (status.state == JobState::kUnspecified) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".state: unspecified"));
  }
  RETURN_IF_ERROR(CheckPosition(status.stage_index, status.iteration, status.round, field));
  RETURN_IF_ERROR(CheckBytes(status.stage_name, kMaxStageNameBytes, field, "stage_name"));
  if (!std::isfinite(status.progress) || status.progress < 0 || status.progress > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".progress: ", status.progress, " is not in [0, 1]"));
  }
  RETURN_IF_ERROR(CheckMetrics(status.metrics, field));
  RETURN_IF_ERROR(CheckNonNegative(status.retries, field, "retries"));
  return CheckBytes(status.latest_checkpoint, kMaxPathBytes, field, "latest_checkpoint");
}

absl::Status CheckEvent(const EventRecord& event, absl::string_view field) {
  RETURN_IF_ERROR(CheckBytes(event.job_id, kMaxJobIdBytes, field, "job_id"));
  RETURN_IF_ERROR(CheckNonNegative(event.type, field, "type"));
  RETURN_IF_ERROR(CheckPosition(event.stage_index, event.iteration, event.round, field));
  RETURN_IF_ERROR(CheckBytes(event.stage_name, kMaxStageNameBytes, field, "stage_name"));
  RETURN_IF_ERROR(CheckMetrics(event.metrics, field));
  RETURN_IF_ERROR(CheckBytes(event.worker_id, kMaxWorkerIdBytes, field, "worker_id"));
  return CheckBytes(event.payload, kMaxPayloadBytes, field, "payload");
}

absl::Status CheckRound(const RoundRecord& round, absl::string_view field) {
  RETURN_IF_ERROR(CheckBytes(round.job_id, kMaxJobIdBytes, field, "job_id"));
  RETURN_IF_ERROR(CheckPosition(round.stage_index, round.iteration, round.round, field));
  RETURN_IF_ERROR(CheckBytes(round.checkpoint_path, kMaxPathBytes, field, "checkpoint_path"));
  return CheckMetrics(round.metrics, field);
}

absl::Status CheckStage(const StageRecord& stage, absl::string_view field) {
  RETURN_IF_ERROR(CheckBytes(stage.job_id, kMaxJobIdBytes, field, "job_id"));
  RETURN_IF_ERROR(CheckPosition(stage.stage_index, stage.iteration, 0, field));
  RETURN_IF_ERROR(CheckBytes(stage.name, kMaxStageNameBytes, field, "name"));
  RETURN_IF_ERROR(CheckBytes(stage.output_checkpoint, kMaxPathBytes, field, "output_checkpoint"));
  return CheckMetrics(stage.metrics, field);
}

absl::Status CheckLease(const LeaseRecord& lease, absl::string_view field) {
  RETURN_IF_ERROR(CheckBytes(lease.job_id, kMaxJobIdBytes, field, "job_id"));
  if (lease.worker_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".worker_id: empty"));
  }
  RETURN_IF_ERROR(CheckBytes(lease.worker_id, kMaxWorkerIdBytes, field, "worker_id"));
  RETURN_IF_ERROR(CheckNonNegative(lease.role, field, "role"));
  return CheckBytes(lease.endpoint, kMaxEndpointBytes, field, "endpoint");
}

absl::Status CheckCheckpoint(const CheckpointRecord& checkpoint, absl::string_view field) {
  RETURN_IF_ERROR(CheckBytes(checkpoint.job_id, kMaxJobIdBytes, field, "job_id"));
  RETURN_IF_ERROR(
      CheckPosition(checkpoint.stage_index, checkpoint.iteration, checkpoint.round, field));
  if (checkpoint.path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".path: empty"));
  }
  return CheckBytes(checkpoint.path, kMaxPathBytes, field, "path");
}

}  // namespace plumb::coordinator

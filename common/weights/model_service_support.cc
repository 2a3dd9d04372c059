#include "common/weights/model_service_support.h"

#include "common/status/status_macros.h"

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/stall_watchdog.h"
#include "common/tensor/tensor_codec.h"
#include "common/weights/weight_stream_proto.h"

namespace plumb::weights {

google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(time);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

absl::StatusOr<v1::LoadWeightsResponse> LoadWithIdleTimeout(
    grpc::ServerContext* context, grpc::ServerReader<v1::WeightChunk>* reader,
    absl::Duration idle_timeout,
    const std::function<absl::StatusOr<v1::LoadWeightsResponse>(
        const std::function<bool(v1::WeightChunk*)>& read)>& load) {
  rpc::StallWatchdog watchdog(idle_timeout, [context] { context->TryCancel(); });
  absl::StatusOr<v1::LoadWeightsResponse> loaded = load([reader, &watchdog](v1::WeightChunk* c) {
    const bool more = reader->Read(c);
    watchdog.Progress();
    return more;
  });
  if (!watchdog.stalled()) return loaded;
  return absl::DeadlineExceededError(
      absl::StrCat("the weight stream sent nothing for ", absl::FormatDuration(idle_timeout),
                   " (server.stream_idle_timeout); the load was abandoned and nothing changed"));
}

absl::Status LoadWeightsEndpoint::RegisterMetrics(metrics::Registry* registry,
                                                  const std::string& prefix) {
  ASSIGN_OR_RETURN(loads_, registry->AddCounter(absl::StrCat(prefix, "_weight_loads_total"),
                                                "LoadWeights calls by result code.", {"code"}));
  ASSIGN_OR_RETURN(metrics::CounterFamily * bytes,
                   registry->AddCounter(absl::StrCat(prefix, "_weight_load_bytes_total"),
                                        "Weight bytes received by successful LoadWeights calls."));
  bytes_ = &bytes->WithLabels({});
  ASSIGN_OR_RETURN(metrics::HistogramFamily * seconds,
                   registry->AddHistogram(absl::StrCat(prefix, "_weight_load_seconds"),
                                          "Seconds from a weight manifest to the swap."));
  seconds_ = &seconds->WithLabels({});
  return absl::OkStatus();
}

grpc::Status LoadWeightsEndpoint::Serve(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::WeightChunk>* reader,
                                        VersionedModel& model, v1::LoadWeightsResponse* response) {
  WeightLoad load(model);
  return Serve(context, reader, load, response);
}

grpc::Status LoadWeightsEndpoint::Serve(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::WeightChunk>* reader,
                                        const ModelResolver& resolve,
                                        v1::LoadWeightsResponse* response) {
  WeightLoad load(resolve);
  return Serve(context, reader, load, response);
}

grpc::Status LoadWeightsEndpoint::Serve(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::WeightChunk>* reader,
                                        WeightLoad& load, v1::LoadWeightsResponse* response) {
  absl::StatusOr<v1::LoadWeightsResponse> loaded = LoadWithIdleTimeout(
      context, reader, idle_timeout_, [&load](const std::function<bool(v1::WeightChunk*)>& read) {
        return ReceiveWeights(read, load);
      });
  loads_->WithLabels({absl::StatusCodeToString(loaded.status().code())}).Increment();
  if (!loaded.ok()) return rpc::ToGrpcStatus(loaded.status());
  bytes_->Increment(static_cast<double>(loaded->bytes()));
  seconds_->Observe(loaded->seconds());
  *response = *std::move(loaded);
  return grpc::Status::OK;
}

void FillModelInfo(const ModelInfoSource& source, v1::ModelInfo* info) {
  const model::ModelConfig& config = *source.config;
  const tokenizer::Tokenizer* tokenizer = source.tokenizer;
  info->set_architecture(config.Architecture());
  info->set_parameter_count(static_cast<uint64_t>(config.ParameterCount()));
  info->set_vocab_size(static_cast<int32_t>(config.vocab_size));
  info->set_context_length(static_cast<int32_t>(config.max_position_embeddings));
  info->set_dtype(tensor::ToWireDType(source.dtype).value_or(v1::DType{}));
  info->set_device(source.device);
  info->set_policy_version(source.version);
  info->set_weights_source(source.weights_source);
  *info->mutable_weights_loaded_time() = ToProtoTime(source.loaded);
  info->set_tokenizer(tokenizer != nullptr ? tokenizer->description() : "");
  info->set_bos_token_id(tokenizer != nullptr ? tokenizer->bos_id().value_or(-1) : -1);
  info->set_eos_token_id(tokenizer != nullptr ? tokenizer->eos_id().value_or(-1) : -1);
  info->set_pad_token_id(tokenizer != nullptr ? tokenizer->pad_id().value_or(-1) : -1);
}

void FillModelInfo(VersionedModel& model, const std::string& device,
                   const tokenizer::Tokenizer* tokenizer, v1::ModelInfo* info) {
  std::shared_ptr<ModelSnapshot> snapshot = model.Current();
  FillModelInfo({.config = &model.config(),
                 .dtype = model.placement().dtype,
                 .device = device,
                 .version = snapshot->version,
                 .weights_source = snapshot->source,
                 .loaded = snapshot->loaded,
                 .tokenizer = tokenizer},
                info);
}

}  // namespace plumb::weights

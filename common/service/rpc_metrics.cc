#include "common/service/rpc_metrics.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include "common/status/status_macros.h"

namespace plumb::service {
namespace {

using grpc::experimental::InterceptionHookPoints;

struct RpcMetricFamilies {
  metrics::CounterFamily* requests;
  metrics::HistogramFamily* duration;
  metrics::Gauge* in_flight;
  std::string service_label;
};

// "/plumb.v1.Generator/Generate" -> "Generator/Generate" keeps label values short and stable.
std::string MethodLabel(const char* full_method) {
  std::string method = full_method != nullptr ? full_method : "unknown";
  if (!method.empty() && method[0] == '/') method.erase(0, 1);
  const size_t slash = method.find('/');
  const size_t dot = method.rfind('.', slash);
  if (slash != std::string::npos && dot != std::string::npos) method.erase(0, dot + 1);
  return method;
}

// One per call. gRPC destroys it when the call ends, also when no status was sent (cancelled).
class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(const RpcMetricFamilies* families, std::string method)
      : families_(families), method_(std::move(method)), start_(absl::Now()) {
    families_->in_flight->Increment();
  }

  ~RpcMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
    families_->in_flight->Decrement();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    static const char* const kCodeNames[] = {"OK",
                                             "CANCELLED",
                                             "UNKNOWN",
                                             "INVALID_ARGUMENT",
                                             "DEADLINE_EXCEEDED",
                                             "NOT_FOUND",
                                             "ALREADY_EXISTS",
                                             "PERMISSION_DENIED",
                                             "RESOURCE_EXHAUSTED",
                                             "FAILED_PRECONDITION",
                                             "ABORTED",
                                             "OUT_OF_RANGE",
                                             "UNIMPLEMENTED",
                                             "INTERNAL",
                                             "UNAVAILABLE",
                                             "DATA_LOSS",
                                             "UNAUTHENTICATED"};
    const int index = static_cast<int>(code);
    const char* name = index >= 0 && index <= 16 ? kCodeNames[index] : "UNKNOWN";
    families_->requests->WithLabels({families_->service_label, method_, name}).Increment();
    families_->duration->WithLabels({families_->service_label, method_})
        .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
  }

  const RpcMetricFamilies* families_;
  const std::string method_;
  const absl::Time start_;
  bool recorded_ = false;
};

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(RpcMetricFamilies families)
      : families_(std::move(families)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(&families_, MethodLabel(info->method()));
  }

 private:
  const RpcMetricFamilies families_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRpcMetricsInterceptorFactory(metrics::Registry* registry, const std::string& service_label) {
  RpcMetricFamilies families;
  families.service_label = service_label;
  ASSIGN_OR_RETURN(families.requests,
                   registry->AddCounter("plumb_rpc_requests_total",
                                        "gRPC calls finished, by method and status code.",
                                        {"service", "method", "code"}));
  ASSIGN_OR_RETURN(families.duration,
                   registry->AddHistogram("plumb_rpc_duration_seconds",
                                          "gRPC call latency from request headers to status.",
                                          {"service", "method"}));
  ASSIGN_OR_RETURN(metrics::GaugeFamily * in_flight,
                   registry->AddGauge("plumb_rpc_in_flight_requests",
                                      "gRPC calls started and not yet finished.", {"service"}));
  families.in_flight = &in_flight->WithLabels({service_label});
  return std::make_unique<RpcMetricsInterceptorFactory>(std::move(families));
}

}  // namespace plumb::service

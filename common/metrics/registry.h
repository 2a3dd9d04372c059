// The set of metric families a process exports, plus collectors that refresh values at scrape
// time. Knows nothing of HTTP or gRPC: Collect() returns snapshots, which an exposition format
// (text_format.h) renders and a server (metrics_http_server.h) serves.
//
//   Registry registry;
//   ASSIGN_OR_RETURN(CounterFamily * rpcs, registry.AddCounter("plumb_rpcs_total", "RPCs handled.",
//                                                             {"method", "code"}));
//   Counter& ok = rpcs->WithLabels({"Generate", "OK"});  // look up once, keep the reference
//   ok.Increment();
//
// Thread safety: every method may be called from any thread. Families, and the children they
// hand out, live exactly as long as the Registry, so pointers and references to them stay valid
// until it is destroyed.
#ifndef PLUMB_COMMON_METRICS_REGISTRY_H_
#define PLUMB_COMMON_METRICS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/family.h"
#include "common/metrics/histogram.h"
#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

class Registry {
 public:
  // Runs at the start of every Collect() to bring values up to date (for example, reading
  // /proc). Collectors run one at a time, so they need not guard against each other; they may
  // add families and update metrics but must not call AddCollector or Collect.
  using Collector = std::function<void()>;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* validates the metric name, the label names (and, for histograms, the buckets) and
  // returns InvalidArgument naming the culprit. Adding a name again with the same definition
  // (type, help, labels, buckets) returns the existing family; a different definition, or a name
  // whose series would clash with another family's (such as "x_count" next to histogram "x"),
  // returns AlreadyExists. Prometheus convention: counter names end in "_total", names carry
  // their unit ("_seconds", "_bytes").
  absl::StatusOr<CounterFamily*> AddCounter(absl::string_view name, absl::string_view help,
                                            std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(absl::string_view name, absl::string_view help,
                                        std::vector<std::string> label_names = {});
  // `upper_bounds` are finite and strictly increasing; the +Inf bucket is added. The label "le"
  // is reserved for the bucket bound.
  absl::StatusOr<HistogramFamily*> AddHistogram(
      absl::string_view name, absl::string_view help, std::vector<std::string> label_names = {},
      std::vector<double> upper_bounds = DefaultLatencyBuckets());

  void AddCollector(Collector collector) ABSL_LOCKS_EXCLUDED(collectors_mu_);

  // Runs the collectors, then snapshots every family, sorted by name.
  std::vector<FamilySnapshot> Collect() const ABSL_LOCKS_EXCLUDED(mu_, collectors_mu_);

 private:
  struct Definition {
    std::string name;
    std::string help;
    MetricType type;
    std::vector<std::string> label_names;
    std::vector<double> upper_bounds;  // Histograms only.
  };
  struct Entry {
    Definition definition;
    std::unique_ptr<FamilyBase> family;
  };
  using FamilyFactory = std::function<std::unique_ptr<FamilyBase>(const Definition&)>;

  // "counter with labels [a, b], help "..."" for error messages.
  static std::string Describe(const Definition& definition);
  static bool SameDefinition(const Definition& a, const Definition& b);

  absl::StatusOr<FamilyBase*> AddFamily(Definition definition, const FamilyFactory& make_family)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CheckSeriesAreFree(const Definition& definition) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  // Every series name a family exposes (a histogram exposes four) -> the family's name.
  std::map<std::string, std::string, std::less<>> series_owners_ ABSL_GUARDED_BY(mu_);

  // Held while collectors run, which serialises them.
  mutable absl::Mutex collectors_mu_;
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(collectors_mu_);
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_REGISTRY_H_

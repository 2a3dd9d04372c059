// Statistics as (sum, count) pairs, so they can be added across micro-batches and ranks before
// the mean is taken: the one accumulator of the offline trainer, the learner's updates and their
// shared training updates.
//
// Thread safety: not thread-safe; one per update.
#ifndef PLUMB_COMMON_TRAIN_STAT_SUMS_H_
#define PLUMB_COMMON_TRAIN_STAT_SUMS_H_

#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/train/distributed.h"

namespace plumb::train {

class StatSums {
 public:
  StatSums() = default;
  // Declares `names` with (0, 0), so a rank that adds nothing to some of them (no rows of its
  // own) still holds the same names as the others when they are reduced.
  explicit StatSums(std::initializer_list<std::string> names);

  void Add(const std::string& name, double sum, double count = 1.0);
  // A counter: summed across micro-batches and ranks like the rest, but with count 0 it is left
  // out of Means() (e.g. tokens scored, read with Sum()).
  void AddCounter(const std::string& name, double value) { Add(name, value, 0.0); }
  // Adds every (sum, count) of `other`.
  void Merge(const StatSums& other);
  // name -> sum / count (names with count 0 are left out).
  std::map<std::string, double> Means() const;
  // The sum of `name` (0 when absent).
  double Sum(const std::string& name) const;
  // The mean of `name`, or `otherwise` when it is absent or has count 0.
  double Mean(const std::string& name, double otherwise = 0.0) const;
  // Adds the sums and counts of every rank (all ranks must hold the same names; INTERNAL when
  // they do not).
  absl::Status AllReduce(World& world);
  const std::map<std::string, std::pair<double, double>>& values() const { return values_; }

 private:
  std::map<std::string, std::pair<double, double>> values_;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_STAT_SUMS_H_

#include "common/train/stat_sums.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::train {

StatSums::StatSums(std::initializer_list<std::string> names) {
  for (const std::string& name : names) values_[name] = {0.0, 0.0};
}

void StatSums::Add(const std::string& name, double sum, double count) {
  auto& [s, c] = values_[name];
  s += sum;
  c += count;
}

void StatSums::Merge(const StatSums& other) {
  for (const auto& [name, value] : other.values_) Add(name, value.first, value.second);
}

std::map<std::string, double> StatSums::Means() const {
  std::map<std::string, double> means;
  for (const auto& [name, value] : values_) {
    if (value.second != 0) means[name] = value.first / value.second;
  }
  return means;
}

double StatSums::Sum(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? 0.0 : it->second.first;
}

double StatSums::Mean(const std::string& name, double otherwise) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.second == 0) return otherwise;
  return it->second.first / it->second.second;
}

absl::Status StatSums::AllReduce(World& world) {
  if (world.size() == 1) return absl::OkStatus();
  std::vector<double> flat;
  flat.reserve(values_.size() * 2 + 1);
  flat.push_back(static_cast<double>(values_.size()));
  for (const auto& [name, value] : values_) {
    flat.push_back(value.first);
    flat.push_back(value.second);
  }
  ASSIGN_OR_RETURN(std::vector<double> summed, world.AllReduceSum(flat));
  if (summed[0] != static_cast<double>(values_.size() * world.size())) {
    return absl::InternalError(absl::StrCat("ranks report different statistics (", values_.size(),
                                            " names on rank ", world.rank(), ")"));
  }
  size_t i = 1;
  for (auto& [name, value] : values_) {
    value.first = summed[i++];
    value.second = summed[i++];
  }
  return absl::OkStatus();
}

}  // namespace plumb::train

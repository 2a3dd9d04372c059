#include "common/train/update_support.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/status/status_macros.h"

namespace plumb::train {

absl::Status ForEachMicroBatch(const UpdateContext& context,
                               const std::function<absl::Status(int64_t, int64_t)>& fn) {
  const int64_t step = context.micro_batch_size > 0
                           ? context.micro_batch_size
                           : std::max<int64_t>(1, context.end - context.begin);
  for (int64_t a = context.begin; a < context.end; a += step) {
    if (context.before_micro_batch) RETURN_IF_ERROR(context.before_micro_batch());
    RETURN_IF_ERROR(fn(a, std::min(context.end, a + step)));
  }
  return absl::OkStatus();
}

void Backpropagate(const UpdateContext& context, const at::Tensor& loss) {
  if (!context.train) return;
  const at::Tensor scaled = loss * context.loss_scale;
  if (context.backward) {
    context.backward(scaled);
  } else {
    scaled.backward();
  }
}

double SumOf(const at::Tensor& t) { return t.detach().to(torch::kDouble).sum().item<double>(); }

at::Tensor FloatTensor(const std::vector<double>& values, const c10::Device& device) {
  return torch::tensor(values, torch::kDouble).to(torch::kFloat).to(device);
}

void AddLogpMarginStats(const at::Tensor& chosen_sum, const at::Tensor& chosen_count,
                        const at::Tensor& rejected_sum, const at::Tensor& rejected_count,
                        StatSums* stats) {
  const double n = static_cast<double>(chosen_sum.size(0));
  stats->Add("logps/chosen", SumOf(chosen_sum), n);
  stats->Add("logps/rejected", SumOf(rejected_sum), n);
  stats->Add("logp_margin", SumOf(chosen_sum - rejected_sum), n);
  const at::Tensor avg =
      chosen_sum / chosen_count.clamp_min(1) - rejected_sum / rejected_count.clamp_min(1);
  stats->Add("avg_logp_margin", SumOf(avg), n);
}

void AddRewardStats(const at::Tensor& chosen, const at::Tensor& rejected, StatSums* stats) {
  const double n = static_cast<double>(chosen.size(0));
  stats->Add("rewards/chosen", SumOf(chosen), n);
  stats->Add("rewards/rejected", SumOf(rejected), n);
  stats->Add("rewards/margin", SumOf(chosen - rejected), n);
  stats->Add("rewards/accuracy", SumOf((chosen > rejected).to(torch::kDouble)), n);
}

}  // namespace plumb::train

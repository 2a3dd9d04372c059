// Golden handlers for the offline preference objectives. Each maps one reference's naming and
// conventions (see each file's `conventions`) onto plumb_algorithms.
#include <torch/torch.h>

#include "common/algorithms/golden_checker.h"
#include "common/algorithms/preference_losses.h"

namespace plumb::algorithms::golden {
namespace {

// eric-mitchell/direct-preference-optimization preference_loss: ipo flag, summed IPO.
void DpoOriginal(CaseContext& c) {
  DpoOptions options;
  options.beta = c.Number("beta");
  options.label_smoothing = c.Number("label_smoothing");
  options.reference_free = c.Bool("reference_free");
  if (c.Bool("ipo")) {
    options.loss_type = "ipo";
    options.ipo_log_ratio = "sum";
    // The trainer passes no label smoothing to IPO; a non-zero value would be ignored there.
    if (options.label_smoothing != 0.0) c.Fail("ipo with label_smoothing != 0 is not supported");
    options.label_smoothing = 0.0;
  }
  const PreferenceLoss out =
      DpoLoss(c.Input("policy_chosen_logps"), c.Input("policy_rejected_logps"),
              c.Input("reference_chosen_logps"), c.Input("reference_rejected_logps"), at::Tensor(),
              at::Tensor(), options);
  c.Output("losses", out.losses);
  c.Output("loss", out.loss);
  c.Output("chosen_rewards", out.chosen_rewards);
  c.Output("rejected_rewards", out.rejected_rewards);
}

// TRL DPOTrainer._compute_loss: length-normalised IPO, no label smoothing for sigmoid.
void TrlDpo(CaseContext& c) {
  c.RequireParam("f_divergence_type", "reverse_kl");
  c.RequireParam("ld_alpha", nullptr);
  c.RequireParam("use_weighting", false);
  c.RequireParam("loss_weights", nlohmann::json::array({1.0}));
  DpoOptions options;
  options.loss_type = c.String("loss_type");
  options.beta = c.Number("beta");
  options.label_smoothing = c.Number("label_smoothing");
  options.ipo_log_ratio = "mean";
  if (options.loss_type != "robust" && options.label_smoothing != 0.0) {
    // TRL ignores label_smoothing for sigmoid/hinge/ipo; Plumb's sigmoid would apply cDPO.
    c.Fail("label_smoothing != 0 is only reproducible for loss_type robust in TRL");
  }
  const absl::Status valid = ValidateDpoOptions(options);
  if (!valid.ok()) {
    c.Fail(valid.ToString());
    return;
  }
  const PreferenceLoss out = DpoLoss(c.Input("chosen_logps"), c.Input("rejected_logps"),
                                     c.Input("ref_chosen_logps"), c.Input("ref_rejected_logps"),
                                     c.Input("chosen_len"), c.Input("rejected_len"), options);
  c.Output("per_sequence_loss", out.losses);
  c.Output("loss", out.loss);
  c.Output("chosen_rewards", out.chosen_rewards);
  c.Output("rejected_rewards", out.rejected_rewards);
}

void TrlKto(CaseContext& c) {
  c.RequireParam("loss_type", "kto");
  KtoOptions options;
  options.beta = c.Number("beta");
  options.desirable_weight = c.Number("desirable_weight");
  options.undesirable_weight = c.Number("undesirable_weight");
  options.kl_average = "all_rows";
  const at::Tensor kl = KtoKlEstimate(c.Input("policy_KL_logps"), c.Input("ref_KL_logps"), options);
  const KtoLoss out =
      ComputeKtoLoss(c.Input("policy_logps"), c.Input("ref_logps"), c.Input("label"), kl, options);
  c.Output("kl", kl);
  c.Output("chosen_losses", out.chosen_losses);
  c.Output("rejected_losses", out.rejected_losses);
  c.Output("losses", out.losses);
  c.Output("loss", out.loss);
  c.Output("chosen_rewards", out.chosen_rewards);
  c.Output("rejected_rewards", out.rejected_rewards);
}

// HALOs: token-level inputs (already masked) reduced by summing over the masked tokens.
void HalosKto(CaseContext& c) {
  c.RequireParam("humanline", false);
  KtoOptions options;
  options.beta = c.Number("beta");
  options.desirable_weight = c.Number("desirable_weight");
  options.undesirable_weight = c.Number("undesirable_weight");
  options.kl_average = "nonzero_rows";
  const at::Tensor chosen_mask = c.Input("chosen_mask");
  const at::Tensor rejected_mask = c.Input("rejected_mask");
  const at::Tensor kl_mask = c.Input("KL_mask");
  auto sum = [](const at::Tensor& logps, const at::Tensor& mask) { return (logps * mask).sum(-1); };
  const at::Tensor policy_kl = sum(c.Input("policy_KL_logps"), kl_mask);
  const at::Tensor ref_kl = sum(c.Input("reference_KL_logps"), kl_mask);
  const at::Tensor policy = at::cat({sum(c.Input("policy_chosen_logps"), chosen_mask),
                                     sum(c.Input("policy_rejected_logps"), rejected_mask)});
  const at::Tensor reference = at::cat({sum(c.Input("reference_chosen_logps"), chosen_mask),
                                        sum(c.Input("reference_rejected_logps"), rejected_mask)});
  const int64_t n_chosen = chosen_mask.size(0);
  const at::Tensor labels = at::arange(policy.size(0)) < n_chosen;

  const at::Tensor kl = KtoKlEstimate(policy_kl, ref_kl, options);
  const KtoLoss out = ComputeKtoLoss(policy, reference, labels, kl, options);
  c.Output("kl", kl);
  c.Output("losses", out.losses);
  c.Output("loss", out.loss);
  c.Output("chosen_rewards", out.chosen_logratios);  // HALOs reports rewards without beta
  c.Output("rejected_rewards", out.rejected_logratios);

  KtoOptions trl = options;
  trl.kl_average = "all_rows";
  const at::Tensor trl_kl = KtoKlEstimate(policy_kl, ref_kl, trl);
  c.Output("trl_kl_same_data", trl_kl);
  c.Output("trl_loss_same_data", ComputeKtoLoss(policy, reference, labels, trl_kl, trl).loss);
}

void TrlOrpo(CaseContext& c) {
  const OrpoLoss out = ComputeOrpoLoss(
      c.Input("chosen_token_logps"), c.Input("chosen_completion_mask"), c.Input("chosen_nll_mask"),
      c.Input("rejected_token_logps"), c.Input("rejected_completion_mask"), c.Number("beta"));
  c.Output("policy_chosen_logps", out.policy_chosen_logps);
  c.Output("policy_rejected_logps", out.policy_rejected_logps);
  c.Output("losses", -out.losses);  // TRL's "losses" is beta * logsigmoid(log_odds)
  c.Output("chosen_rewards", out.chosen_rewards);
  c.Output("rejected_rewards", out.rejected_rewards);
  c.Output("log_odds_ratio", out.log_odds_ratio);
  c.Output("log_odds_chosen", out.log_odds_chosen);
  c.Output("nll_loss", out.nll_loss);
  c.Output("loss", out.loss);
}

void TrlSimpo(CaseContext& c) {
  c.RequireParam("loss_type", "simpo");
  c.RequireParam("alpha", 0.0);
  SimpoOptions options;
  options.beta = c.Number("beta");
  options.gamma = c.Number("simpo_gamma");
  options.cpo_alpha = c.Number("cpo_alpha");
  options.label_smoothing = c.Number("label_smoothing");
  const SimpoLoss out = ComputeSimpoLoss(
      c.Input("chosen_token_logps"), c.Input("chosen_completion_mask"),
      c.Input("rejected_token_logps"), c.Input("rejected_completion_mask"), options);
  c.Output("policy_chosen_logps", out.policy_chosen_logps);
  c.Output("policy_rejected_logps", out.policy_rejected_logps);
  c.Output("losses", out.losses);
  c.Output("chosen_rewards", out.chosen_rewards);
  c.Output("rejected_rewards", out.rejected_rewards);
  c.Output("nll_loss", out.nll_loss);
  c.Output("loss", out.loss);
}

void RewardModel(CaseContext& c) {
  const at::Tensor chosen = c.Input("chosen_reward");
  const at::Tensor rejected = c.Input("reject_reward");
  const at::Tensor margin = c.Input("margin");
  RewardModelLossOptions options;
  options.center_rewards_coefficient = c.Number("center_rewards_coefficient");
  c.Output("pairwise_loss", PairwiseRewardLoss(chosen, rejected));
  c.Output("pairwise_loss_margin", PairwiseRewardLoss(chosen, rejected, margin));
  c.Output("logexp_loss", LogExpRewardLoss(chosen, rejected));
  c.Output("trl_reward_loss", ComputeRewardModelLoss(chosen, rejected, at::Tensor(), {}).loss);
  c.Output("trl_reward_loss_margin_center",
           ComputeRewardModelLoss(chosen, rejected, margin, options).loss);
}

void Rrhf(CaseContext& c) {
  const at::Tensor token_logps = c.Input("token_logps");
  const at::Tensor label_mask = c.Input("label_mask");
  const at::Tensor rw_scores = c.Input("rw_scores");
  // padded_length documents the column count the reference divides by; it must be L.
  if (c.Number("padded_length") != static_cast<double>(token_logps.size(1))) {
    c.Fail("padded_length differs from the token_logps column count");
  }
  RrhfOptions options;
  options.rrhf_weight = c.Number("rrhf_weight");
  options.length_penalty = c.Number("length_penalty");
  options.length_mode = "padded";
  // The golden file's SFT term is the reference code's padded-row mean in both length modes.
  options.sft_reduction = "padded_mean";
  const RrhfLoss padded = ComputeRrhfLoss(token_logps, label_mask, rw_scores, options);
  c.Output("scores", padded.scores);
  c.Output("rrhf_loss", padded.rank_loss);
  c.Output("sft_loss", padded.sft_loss);
  c.Output("loss", padded.loss);
  options.length_mode = "response";
  const RrhfLoss paper = ComputeRrhfLoss(token_logps, label_mask, rw_scores, options);
  c.Output("scores_true_length", paper.scores);
  c.Output("rrhf_loss_true_length", paper.rank_loss);
  c.Output("loss_true_length", paper.loss);
}

}  // namespace

void AddPreferenceHandlers(std::map<std::string, Handler>& handlers) {
  handlers["DPO / cDPO / IPO (original authors)"] = DpoOriginal;
  handlers["DPO loss types sigmoid/hinge/ipo/robust (TRL DPOTrainer)"] = TrlDpo;
  handlers["KTO (TRL KTOTrainer, loss_type='kto')"] = TrlKto;
  handlers["KTO (ContextualAI HALOs KTOTrainer.loss)"] = HalosKto;
  handlers["ORPO (TRL ORPOTrainer)"] = TrlOrpo;
  handlers["SimPO (TRL CPOTrainer, loss_type='simpo')"] = TrlSimpo;
  handlers["Reward-model pairwise losses (Bradley-Terry, Llama-2 margin, log-exp)"] = RewardModel;
  handlers["RRHF rank loss + SFT"] = Rrhf;
}

}  // namespace plumb::algorithms::golden

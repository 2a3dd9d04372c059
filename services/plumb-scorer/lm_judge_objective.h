// The `lm_judge` objective kind: a causal language model prompted as a judge (RLAIF,
// constitutional AI). Its template (judge_template.h) renders the prompt; the answer is read from
// the model's probabilities of the answer labels after the ending string, normalised over the
// labels. Each label's probability is the product of its tokens' teacher-forced probabilities,
// so multi-token labels (" 10", or any label under a byte-level tokenizer) are exact; for
// single-token labels it equals the next-token softmax renormalised over the labels.
//   Score:   a single response's rating, the expected rating over rating_labels 1..K mapped to
//            [0, 1], under the objective's `principle` (or the default one).
//   Compare: P(first preferred); with position_debias the pair is shown in both orders and the
//            two estimates are averaged (judge_template.h, DebiasedPreference).
// Text given as token ids only is decoded with the objective's `tokenizer` (the policy's); the
// rendered prompt is encoded with the judge's own tokenizer (its model folder's, or
// `judge_tokenizer`) as a prompt (BOS when the vocabulary has one), each label as a response.
// Nothing is truncated: a rendered prompt plus its longest label must fit the judge's context.
//
// The weights live in a weights::VersionedModel, so a LoadWeights stream naming the objective
// swaps the judge as it swaps a reward model.
//
// Thread safety: as reward_model_objective.h: Prepare pins a snapshot, forward passes on one
// snapshot are serialised by its use_mu.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_LM_JUDGE_OBJECTIVE_H_
#define PLUMB_SERVICES_PLUMB_SCORER_LM_JUDGE_OBJECTIVE_H_

#include <memory>
#include <string>

#include "services/plumb-scorer/objective_kind.h"

namespace plumb::scorer {

struct LmJudgeOptions {
  std::string path;             // the judge's model folder (config.json + weights)
  std::string template_path;    // YAML template (judge_template.h); required
  std::string constitution;     // optional YAML file of `principles:`, replacing the template's
  std::string judge_tokenizer;  // "" = the model folder's tokenizer files
  std::string principle;        // the principle Score's ratings apply; "" = the default
  std::string dtype = "float32";
  std::string device = "cpu";
};

// The kind, category LM judge, options LmJudgeOptions. Creating one loads the model, its
// tokenizer and the template; a template or constitution the loader refuses is INVALID_ARGUMENT
// naming the file and key.
std::shared_ptr<const ScoringObjectiveKind> LmJudgeObjectiveKind();

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_LM_JUDGE_OBJECTIVE_H_

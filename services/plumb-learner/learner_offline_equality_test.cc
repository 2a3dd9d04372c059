// plumb-train and the learner run one implementation of each offline update
// (common/train/offline_updates.h). This test feeds both the same batch — plumb-train as text
// examples through its objectives (encoder, frozen reference model), the learner as token ids with
// the reference log-probs a reference service would send — and checks that they give the same
// loss and the same gradients for every offline kind: through the learner's batch conversion
// (every parameter's gradient) and through LearnerCore end to end (loss and gradient norm).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/model/sampling_test_model.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/train/objectives.h"
#include "common/train/offline_updates.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_offline_batches.h"

namespace plumb::learner {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-6;

struct Case {
  std::string name;
  Algorithm algorithm;
  std::function<void(train::ObjectiveOptions&)> trainer;  // plumb-train's settings
  std::function<void(SessionOptions&)> learner;           // the same, as a learner session
  std::string data;                                       // pairs | ranked | unpaired | sft
};

std::vector<Case> Cases() {
  auto none = [](auto&) {};
  return {
      {"sft", Algorithm::kSft, [](train::ObjectiveOptions& o) { o.kind = "sft"; }, none, "sft"},
      {"dpo", Algorithm::kDpo, [](train::ObjectiveOptions& o) { o.kind = "dpo"; }, none, "pairs"},
      {"ipo", Algorithm::kDpo,
       [](train::ObjectiveOptions& o) {
         o.kind = "dpo";
         o.dpo.loss_type = "ipo";
       },
       [](SessionOptions& o) { o.dpo.loss_type = "ipo"; }, "pairs"},
      {"cdpo", Algorithm::kDpo,
       [](train::ObjectiveOptions& o) {
         o.kind = "dpo";
         o.dpo.label_smoothing = 0.2;
       },
       [](SessionOptions& o) { o.dpo.label_smoothing = 0.2; }, "pairs"},
      {"rpo", Algorithm::kDpo,
       [](train::ObjectiveOptions& o) {
         o.kind = "dpo";
         o.dpo_sft_weight = 0.7;
       },
       [](SessionOptions& o) { o.dpo_sft_weight = 0.7; }, "pairs"},
      {"kto", Algorithm::kKto, [](train::ObjectiveOptions& o) { o.kind = "kto"; }, none,
       "unpaired"},
      {"orpo", Algorithm::kOrpo,
       [](train::ObjectiveOptions& o) {
         o.kind = "orpo";
         o.orpo_beta = 0.3;
       },
       [](SessionOptions& o) { o.orpo_weight = 0.3; }, "pairs"},
      {"simpo", Algorithm::kSimpo, [](train::ObjectiveOptions& o) { o.kind = "simpo"; }, none,
       "pairs"},
      {"cpo_nll", Algorithm::kSimpo,
       [](train::ObjectiveOptions& o) {
         o.kind = "simpo";
         o.simpo.cpo_alpha = 0.5;
       },
       [](SessionOptions& o) { o.simpo.cpo_alpha = 0.5; }, "pairs"},
      {"rrhf", Algorithm::kRrhf, [](train::ObjectiveOptions& o) { o.kind = "rrhf"; }, none,
       "ranked"},
      {"reward_model_pairs_with_margins", Algorithm::kRewardModel,
       [](train::ObjectiveOptions& o) {
         o.kind = "reward_model";
         o.reward_model.use_margin = true;
         o.reward_model.center_rewards_coefficient = 0.01;
       },
       [](SessionOptions& o) {
         o.reward_model.use_margin = true;
         o.reward_model.center_rewards_coef = 0.01;
       },
       "pairs"},
      {"reward_model_ranked_groups", Algorithm::kRewardModel,
       [](train::ObjectiveOptions& o) { o.kind = "reward_model"; }, none, "ranked"},
  };
}

class LearnerOfflineEqualityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) /
                        absl::StrCat("learner_offline_equality_", getpid()));
    fs::remove_all(*dir_);
    model::ModelConfig config = model::SmallConfig();
    config.vocab_size = 259;  // the byte tokenizer's
    config.num_reward_outputs = 1;
    torch::manual_seed(21);
    model::Transformer policy(config);
    ASSERT_TRUE(model::SaveHfModel(*policy, *dir_ / "policy").ok());
    // The reference: the policy, sharpened (final norm x 2), so that the policy is the likelier
    // of the two on mismatched completions and KTO's reference point z0 is above 0.
    {
      torch::NoGradGuard no_grad;
      policy->named_parameters()["norm"].mul_(2.0);
    }
    ASSERT_TRUE(model::SaveHfModel(*policy, *dir_ / "reference").ok());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  LearnerOfflineEqualityTest() {
    std::shared_ptr<const tokenizer::Tokenizer> tok = *tokenizer::ByteTokenizer::Create();
    encoder_ = std::make_unique<train::ExampleEncoder>(
        tok, train::EncoderOptions{.max_length = 48, .max_prompt_length = 16});
    reference_ = Load("reference");
    for (at::Tensor& p : reference_->parameters()) p.set_requires_grad(false);
  }

  static model::Transformer Load(const std::string& name) {
    absl::StatusOr<model::Transformer> m =
        model::LoadHfModel(*dir_ / name, model::ModelPlacement{});
    EXPECT_TRUE(m.ok()) << m.status();
    return *m;
  }

  // Text examples of one data kind, as plumb-train reads them.
  static std::vector<data::Example> Examples(const std::string& kind) {
    std::vector<data::Example> out;
    auto add = [&](data::ExampleValue value) { out.push_back({std::move(value), {"t.jsonl", 1}}); };
    if (kind == "sft") {
      add(data::SftExample{"Q1:", " sunny day"});
      add(data::SftExample{"Q22:", " kind words"});
      add(data::SftExample{"Q3:", " calm"});
    } else if (kind == "pairs") {
      data::PreferencePair a{"Q1:", " sunny day", " grim"}, b{"Q22:", " kind", " cruel words"},
          c{"Q3:", " warm calm", " cold"};
      a.margin = 1.0;
      c.margin = 0.5;
      b.preference_probability = 0.75;  // a soft label (the reward model's; others ignore it)
      c.preference_probability = 0.25;
      add(a);
      add(b);
      add(c);
    } else if (kind == "ranked") {
      add(data::RankedList{"Q1:", {" grim", " sunny day", " ok"}, {3, 1, 2}});
      add(data::RankedList{"Q22:", {" kind", " cruel words"}, {1, 2}});
      add(data::RankedList{"Q3:", {" cold", " warm", " mild", " hot"}, {2, 1, 2, 4}});
    } else {
      add(data::UnpairedExample{"Q1:", " sunny", true});
      add(data::UnpairedExample{"Q22:", " grim", false});
      add(data::UnpairedExample{"Q3:", " warm calm", true});
      add(data::UnpairedExample{"Q4:", " cold", false});
    }
    return out;
  }

  train::EncodedSequence Encode(const std::string& prompt, const std::string& response) {
    absl::StatusOr<train::EncodedSequence> e = encoder_->Encode(prompt, response);
    EXPECT_TRUE(e.ok()) << e.status();
    return *e;
  }

  // Summed log-probs of (prompts[i], responses[i]) under the reference, as a reference service
  // reports them. One pass in the order plumb-train scores them (each item's two sequences side by
  // side), so both paths see bit-identical reference values: a row's float32 result depends on
  // what shares its batch.
  std::vector<double> ReferenceLogProbs(const std::vector<std::vector<int64_t>>& prompts,
                                        const std::vector<std::vector<int64_t>>& responses) {
    torch::NoGradGuard no_grad;
    absl::StatusOr<model::ResponseScores> s =
        model::ScoreResponses(*reference_, prompts, responses);
    EXPECT_TRUE(s.ok()) << s.status();
    const at::Tensor sums = (s->logprobs * s->mask).sum(1).to(torch::kDouble).contiguous();
    return std::vector<double>(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel());
  }

  // plumb-train's path: the objective on text, the whole batch on one rank.
  std::pair<double, std::vector<at::Tensor>> TrainerPath(const Case& c,
                                                         const std::vector<data::Example>& batch) {
    train::ObjectiveOptions options;
    c.trainer(options);
    model::Transformer policy = Load("policy");
    absl::StatusOr<std::unique_ptr<train::TrainingObjective>> objective =
        train::MakeObjective(options, {policy.get(), reference_.get(), false}, encoder_.get());
    EXPECT_TRUE(objective.ok()) << objective.status();
    std::unique_ptr<train::World> world = train::World::Single();
    const int64_t n = static_cast<int64_t>(batch.size());
    train::StepContext ctx{world.get(), &batch, 0, n, n, false};
    train::StatSums stats;
    absl::Status status = (*objective)->AccumulateGradients(ctx, &stats);
    EXPECT_TRUE(status.ok()) << status;
    return {stats.Means()["loss"], Gradients(*policy)};
  }

  static std::vector<at::Tensor> Gradients(model::TransformerImpl& policy) {
    std::vector<at::Tensor> grads;
    for (const at::Tensor& p : policy.parameters()) {
      grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    return grads;
  }

  // The learner's batches of the same examples, as a caller sends them (token ids, reference
  // log-probs), and the Train call that takes them.
  struct LearnerBatch {
    std::vector<SftExample> sft;
    std::vector<PreferenceExample> pairs;
    std::vector<UnpairedExample> unpaired;
    std::vector<RankedGroup> ranked;
  };

  LearnerBatch ToLearner(const std::vector<data::Example>& batch) {
    LearnerBatch out;
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string id = absl::StrCat("e", i);
      if (const auto* s = std::get_if<data::SftExample>(&batch[i].value)) {
        train::EncodedSequence e = Encode(s->prompt, s->response);
        out.sft.push_back({id, e.prompt, e.response, 1.0});
      } else if (const auto* p = std::get_if<data::PreferencePair>(&batch[i].value)) {
        std::vector<train::EncodedSequence> e =
            *encoder_->EncodeShared(p->prompt, {p->chosen, p->rejected});
        PreferenceExample pair{id, e[0].prompt, e[0].response, e[1].response};
        pair.margin = p->margin;
        pair.probability = p->preference_probability;
        out.pairs.push_back(std::move(pair));
      } else if (const auto* r = std::get_if<data::RankedList>(&batch[i].value)) {
        std::vector<absl::string_view> texts(r->responses.begin(), r->responses.end());
        std::vector<train::EncodedSequence> e = *encoder_->EncodeShared(r->prompt, texts);
        RankedGroup group{id, e[0].prompt, {}, {}};
        for (size_t k = 0; k < e.size(); ++k) {
          group.responses.push_back(e[k].response);
          group.ranks.push_back(r->ranks[k] - 1);  // the learner's best rank is 0
        }
        out.ranked.push_back(std::move(group));
      } else if (const auto* u = std::get_if<data::UnpairedExample>(&batch[i].value)) {
        train::EncodedSequence e = Encode(u->prompt, u->completion);
        out.unpaired.push_back({id, e.prompt, e.response, u->desirable});
      }
    }
    std::vector<std::vector<int64_t>> prompts, responses;
    for (const PreferenceExample& p : out.pairs) {
      prompts.insert(prompts.end(), {p.prompt, p.prompt});
      responses.insert(responses.end(), {p.chosen, p.rejected});
    }
    for (size_t i = 0; i < out.unpaired.size(); ++i) {
      const UnpairedExample& e = out.unpaired[i];
      prompts.insert(prompts.end(), {e.prompt, e.prompt});
      responses.insert(responses.end(),
                       {e.completion, out.unpaired[(i + 1) % out.unpaired.size()].completion});
    }
    if (prompts.empty()) return out;
    const std::vector<double> sums = ReferenceLogProbs(prompts, responses);
    for (size_t i = 0; i < out.pairs.size(); ++i) {
      out.pairs[i].ref_chosen = sums[2 * i];
      out.pairs[i].ref_rejected = sums[2 * i + 1];
    }
    for (size_t i = 0; i < out.unpaired.size(); ++i) {
      out.unpaired[i].ref_logprob = sums[2 * i];
      out.unpaired[i].ref_kl_logprob = sums[2 * i + 1];
    }
    return out;
  }

  // The learner's path below LearnerCore: its batch conversion and options into the shared
  // update, on one process.
  std::pair<double, std::vector<at::Tensor>> LearnerUpdatePath(const Case& c,
                                                               const LearnerBatch& batch) {
    SessionOptions session = Session(c);
    const train::ObjectiveOptions options = ObjectiveOptionsOf(session);
    model::Transformer policy = Load("policy");
    std::unique_ptr<train::World> world = train::World::Single();
    train::UpdateContext context;
    context.world = world.get();
    absl::StatusOr<train::StatSums> stats = absl::UnknownError("no batch");
    auto run = [&](auto update, const auto& items) {
      context.end = static_cast<int64_t>(items.size());
      stats = update(*policy, items, options, context);
    };
    if (!batch.sft.empty()) {
      context.end = static_cast<int64_t>(batch.sft.size());
      stats = train::SftUpdate(*policy, SftItems(batch.sft), options.sft, context);
    } else if (c.algorithm == Algorithm::kRewardModel) {
      const std::vector<train::RankedItem> groups =
          batch.pairs.empty() ? RankedItems(batch.ranked) : RankedItems(batch.pairs);
      context.end = static_cast<int64_t>(groups.size());
      stats = train::RewardModelUpdate(*policy, groups, options.reward_model, context);
    } else if (!batch.pairs.empty()) {
      run(&train::PairUpdate, PairItems(batch.pairs));
    } else if (!batch.unpaired.empty()) {
      run(&train::KtoUpdate, UnpairedItems(batch.unpaired));
    } else {
      run(&train::RrhfUpdate, RankedItems(batch.ranked));
    }
    EXPECT_TRUE(stats.ok()) << stats.status();
    return {stats.ok() ? stats->Means()["loss"] : NAN, Gradients(*policy)};
  }

  static SessionOptions Session(const Case& c) {
    SessionOptions o;
    o.algorithm = c.algorithm;
    o.policy_path = (*dir_ / "policy").string();
    o.optimizer.lr = 1e-6;
    o.seed = 3;
    o.max_grad_norm = 0;  // the reported norm is the raw gradient's
    c.learner(o);
    return o;
  }

  // LearnerCore end to end: one Train call; its total loss and gradient norm.
  absl::StatusOr<TrainStats> LearnerCorePath(const Case& c, const LearnerBatch& batch) {
    absl::StatusOr<Storage> storage = Storage::Create(
        {.checkpoint_root = (*dir_ / "checkpoints").string(), .model_roots = {dir_->string()}});
    if (!storage.ok()) return storage.status();
    LearnerCore core(*std::move(storage));
    bool created = false;
    absl::StatusOr<SessionStatus> s = core.StartSession(Session(c), "", true, &created, "s");
    if (!s.ok()) return s.status();
    if (!batch.sft.empty()) return core.TrainSft("s", batch.sft);
    if (!batch.pairs.empty()) return core.TrainPreference("s", batch.pairs);
    if (!batch.unpaired.empty()) return core.TrainUnpaired("s", batch.unpaired);
    return core.TrainRanked("s", batch.ranked);
  }

  static double Norm(const std::vector<at::Tensor>& grads) {
    double sq = 0;
    for (const at::Tensor& g : grads) sq += g.to(torch::kDouble).pow(2).sum().item<double>();
    return std::sqrt(sq);
  }

  static fs::path* dir_;
  std::unique_ptr<train::ExampleEncoder> encoder_;
  model::Transformer reference_{nullptr};
};

fs::path* LearnerOfflineEqualityTest::dir_ = nullptr;

TEST_F(LearnerOfflineEqualityTest, PlumbTrainAndTheLearnerGiveTheSameLossAndGradients) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<data::Example> examples = Examples(c.data);
    const auto [trainer_loss, trainer_grads] = TrainerPath(c, examples);
    const LearnerBatch batch = ToLearner(examples);
    const auto [learner_loss, learner_grads] = LearnerUpdatePath(c, batch);

    ASSERT_TRUE(std::isfinite(trainer_loss));
    EXPECT_NEAR(learner_loss, trainer_loss, kTolerance * std::max(1.0, std::abs(trainer_loss)));
    ASSERT_EQ(learner_grads.size(), trainer_grads.size());
    const double norm = Norm(trainer_grads);
    EXPECT_GT(norm, 1e-6) << "no gradient at all";
    for (size_t i = 0; i < trainer_grads.size(); ++i) {
      const double worst = (learner_grads[i] - trainer_grads[i]).abs().max().item<double>();
      EXPECT_LE(worst, kTolerance) << "parameter " << i;
    }

    absl::StatusOr<TrainStats> stats = LearnerCorePath(c, batch);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_NEAR(stats->losses.at("total"), trainer_loss,
                kTolerance * std::max(1.0, std::abs(trainer_loss)));
    EXPECT_NEAR(stats->grad_norm, norm, kTolerance * std::max(1.0, norm));
    // KTO's reference point must be in play, or its mismatched pairs would go unchecked.
    if (c.algorithm == Algorithm::kKto) {
      EXPECT_GT(stats->kl.value_or(0), 0.01);
    }
  }
}

}  // namespace
}  // namespace plumb::learner

// The coordinator's scheduler and job runner on the fake clients, over a real SQLite store:
// rounds counted, jobs queued for workers, cancelled, resumed after a restart, paused on a lost
// scorer.
#include "services/plumb-coordinator/coordinator_core.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clients/fake_clients.h"

namespace plumb::coordinator {
namespace {

namespace fs = std::filesystem;

class FakeFactory : public ClientFactory {
 public:
  clients::FakeGenerator* AddGenerator(const std::string& endpoint) {
    generators_[endpoint] = std::make_unique<clients::FakeGenerator>(endpoint);
    return generators_[endpoint].get();
  }
  clients::FakeScorer* AddScorer(const std::string& endpoint) {
    scorers_[endpoint] = std::make_unique<clients::FakeScorer>(
        endpoint, [](const scorer::ScoreInput& in) { return in.response_ids.size() * 0.1; });
    return scorers_[endpoint].get();
  }
  clients::FakeReference* AddReference(const std::string& endpoint) {
    references_[endpoint] = std::make_unique<clients::FakeReference>(endpoint);
    return references_[endpoint].get();
  }
  clients::FakeLearner* AddLearner(const std::string& endpoint) {
    learners_[endpoint] = std::make_unique<clients::FakeLearner>(endpoint);
    for (auto& [name, g] : generators_) learners_[endpoint]->AddPublishTarget(g.get());
    for (auto& [name, r] : references_) learners_[endpoint]->AddPublishEndpoint(name);
    for (auto& [name, r] : scorers_) learners_[endpoint]->AddPublishEndpoint(name);
    return learners_[endpoint].get();
  }
  absl::StatusOr<clients::GeneratorClient*> Generator(const std::string& e) override {
    return Get(generators_, e);
  }
  absl::StatusOr<clients::ScorerClient*> Scorer(const std::string& e) override {
    return Get(scorers_, e);
  }
  absl::StatusOr<clients::ReferenceClient*> Reference(const std::string& e) override {
    return Get(references_, e);
  }
  absl::StatusOr<clients::LearnerClient*> Learner(const std::string& e) override {
    if (gated_ != nullptr && gated_->endpoint() == e) return gated_.get();
    return Get(learners_, e);
  }
  // From now on the learner at `endpoint` is wrapped: each Train waits (up to 5 s) until
  // `generator` has received the next round's request, and counts whether it had.
  // The job has `rounds` rounds: the last Train has no next generation to wait for.
  void GateTrainOnNextGeneration(const std::string& endpoint, clients::FakeGenerator* generator,
                                 size_t rounds);
  int overlapped_trains() const { return gated_ ? gated_->overlapped.load() : 0; }

 private:
  class GatedLearner final : public clients::LearnerClient {
   public:
    GatedLearner(clients::FakeLearner* inner, clients::FakeGenerator* generator, size_t rounds)
        : inner_(inner), generator_(generator), rounds_(rounds) {}
    const std::string& endpoint() const override { return inner_->endpoint(); }
    absl::StatusOr<learner::SessionStatus> StartSession(const clients::StartSessionCall& c,
                                                        const clients::CallOptions& o) override {
      return inner_->StartSession(c, o);
    }
    absl::StatusOr<learner::TrainStats> Train(const clients::TrainCall& c,
                                              const clients::CallOptions& o) override {
      const size_t wanted = c.sequence + 1;  // rounds 0..sequence requested
      if (wanted > rounds_) return inner_->Train(c, o);
      const absl::Time until = absl::Now() + absl::Seconds(5);
      while (generator_->jobs().size() < wanted && absl::Now() < until) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      if (generator_->jobs().size() >= wanted) ++overlapped;
      return inner_->Train(c, o);
    }
    absl::StatusOr<clients::PublishOutcome> PublishWeights(const clients::PublishCall& c,
                                                           const clients::CallOptions& o) override {
      return inner_->PublishWeights(c, o);
    }
    absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(const std::string& s,
                                                           const std::string& p, bool w, bool ov,
                                                           const clients::CallOptions& o) override {
      return inner_->SaveCheckpoint(s, p, w, ov, o);
    }
    absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(const std::string& s,
                                                           const std::string& p, bool w,
                                                           const clients::CallOptions& o) override {
      return inner_->LoadCheckpoint(s, p, w, o);
    }
    absl::StatusOr<uint64_t> EndSession(const std::string& s,
                                        const clients::CallOptions& o) override {
      return inner_->EndSession(s, o);
    }
    absl::StatusOr<clients::LearnerStatus> GetStatus(const clients::CallOptions& o) override {
      return inner_->GetStatus(o);
    }
    std::atomic<int> overlapped{0};

   private:
    clients::FakeLearner* const inner_;
    clients::FakeGenerator* const generator_;
    const size_t rounds_;
  };
  std::unique_ptr<GatedLearner> gated_;

 public:
 private:
  template <typename T>
  static absl::StatusOr<T*> Get(std::map<std::string, std::unique_ptr<T>>& m,
                                const std::string& e) {
    auto it = m.find(e);
    if (it == m.end()) return absl::NotFoundError(absl::StrCat("no fake at ", e));
    return it->second.get();
  }
  std::map<std::string, std::unique_ptr<clients::FakeGenerator>> generators_;
  std::map<std::string, std::unique_ptr<clients::FakeScorer>> scorers_;
  std::map<std::string, std::unique_ptr<clients::FakeReference>> references_;
  std::map<std::string, std::unique_ptr<clients::FakeLearner>> learners_;
};

void FakeFactory::GateTrainOnNextGeneration(const std::string& endpoint,
                                            clients::FakeGenerator* generator, size_t rounds) {
  gated_ = std::make_unique<GatedLearner>(learners_.at(endpoint).get(), generator, rounds);
}

class CoordinatorCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / absl::StrCat("coordinator_core_test_", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream prompts(root_ / "prompts.jsonl");
    for (int i = 0; i < 5; ++i) prompts << "{\"prompt\": \"prompt number " << i << "\"}\n";
    prompts.close();
    store_ = *JobStore::Open((root_ / "state.db").string());
    pool_ = std::make_unique<WorkerPool>(absl::Seconds(1), absl::Seconds(3));
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    fs::remove_all(root_);
  }

  // One pool of workers: n of each role but one shared scorer.
  void AddWorkers(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string g = absl::StrCat("gen", i, ":1");
      factory_.AddGenerator(g);
      pool_->AddStatic(WorkerRole::kGenerator, g);
    }
    factory_.AddScorer("scorer:1");
    pool_->AddStatic(WorkerRole::kScorer, "scorer:1");
    for (int i = 0; i < n; ++i) {
      const std::string r = absl::StrCat("ref", i, ":1");
      factory_.AddReference(r);
      pool_->AddStatic(WorkerRole::kReference, r);
      const std::string l = absl::StrCat("learner", i, ":1");
      learners_.push_back(factory_.AddLearner(l));
      pool_->AddStatic(WorkerRole::kLearner, l);
    }
  }

  JobPlan Plan(int rounds, int checkpoint_every = 0) {
    JobPlan plan;
    plan.name = "ppo";
    plan.kind = JobKind::kPpo;
    plan.seed = 11;
    plan.base_checkpoint = "base";
    StagePlan stage;
    stage.name = "ppo";
    stage.kind = StageKind::kOnlineRl;
    stage.rounds = rounds;
    stage.prompt_data.push_back(
        {.path = (root_ / "prompts.jsonl").string(), .format = DatasetFormat::kPlainPrompts});
    stage.training = learner::SessionOptions::Defaults(learner::Algorithm::kPpo);
    stage.sampling.num_samples = 2;
    stage.sampling.max_new_tokens = 4;
    stage.scheduling.prompts_per_round = 4;
    stage.scheduling.checkpoint_every = checkpoint_every;
    stage.scheduling.rpc_timeout = absl::Seconds(10);
    stage.scheduling.retry.initial_backoff = absl::Milliseconds(5);
    stage.scheduling.retry.max_backoff = absl::Milliseconds(20);
    plan.stages.push_back(stage);
    return plan;
  }

  void StartCore() {
    core_ = std::make_unique<CoordinatorCore>(
        store_.get(), pool_.get(), &factory_,
        [this](const std::string& spec) -> absl::StatusOr<JobPlan> {
          absl::MutexLock lock(&plans_mu_);
          auto it = plans_.find(spec);
          if (it == plans_.end()) return absl::InvalidArgumentError("unknown spec");
          return it->second;
        },
        [this](WorkerRole, const std::string& endpoint) {
          absl::MutexLock lock(&plans_mu_);
          return !down_.contains(endpoint);
        },
        CoordinatorOptions{.schedule_interval = absl::Milliseconds(20),
                           .probe_interval = absl::Milliseconds(20)});
    core_->Start();
  }

  std::string Submit(const JobPlan& plan, int priority = 0) {
    const std::string spec = absl::StrCat("spec-", next_spec_++);
    {
      absl::MutexLock lock(&plans_mu_);
      plans_[spec] = plan;
    }
    JobRecord job;
    job.owner = "alice";
    job.name = plan.name;
    job.kind = static_cast<int>(plan.kind);
    job.priority = priority;
    job.spec = spec;
    job.spec_hash = spec;
    absl::StatusOr<Submitted> submitted = core_->Submit(job, plan);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return submitted.ok() ? submitted->job.job_id : "";
  }

  JobState StateOf(const std::string& id) { return store_->GetJob(id, false)->status.state; }

  bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time end = absl::Now() + timeout;
    while (absl::Now() < end) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return done();
  }

  bool WaitForState(const std::string& id, JobState state) {
    return WaitFor([&] { return StateOf(id) == state; });
  }

  std::vector<EventRecord> Events(const std::string& id) {
    return store_->EventsAfter(id, 0, 10000).value_or(std::vector<EventRecord>());
  }

  fs::path root_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<WorkerPool> pool_;
  FakeFactory factory_;
  std::vector<clients::FakeLearner*> learners_;
  std::unique_ptr<CoordinatorCore> core_;
  absl::Mutex plans_mu_;
  std::map<std::string, JobPlan> plans_ ABSL_GUARDED_BY(plans_mu_);
  std::set<std::string> down_ ABSL_GUARDED_BY(plans_mu_);
  int next_spec_ = 0;
};

TEST_F(CoordinatorCoreTest, AnOnlineJobTrainsEveryRoundOnceAndSucceeds) {
  AddWorkers(1);
  StartCore();
  const std::string id = Submit(Plan(3, /*checkpoint_every=*/2));
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded)) << JobStateName(StateOf(id));

  const std::vector<RoundRecord> rounds = *store_->CompletedRounds(id);
  ASSERT_EQ(rounds.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(rounds[r].round, r);
    EXPECT_EQ(rounds[r].metrics.at("rollouts"), 8);  // 4 prompts x 2 samples
    EXPECT_TRUE(rounds[r].metrics.contains("kl"));
    EXPECT_TRUE(rounds[r].metrics.contains("distinct_2"));
  }
  const std::vector<clients::TrainCall> calls = learners_[0]->train_calls();
  ASSERT_EQ(calls.size(), 3u);
  std::set<std::string> prompts_seen;
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].sequence, i + 1);
    const auto& batch = std::get<clients::ExperienceBatch>(calls[i].batch);
    EXPECT_EQ(batch.experiences.size(), 8u);
  }
  EXPECT_EQ(learners_[0]->sessions_started_from(), std::vector<std::string>{"base"});

  const JobRecord job = *store_->GetJob(id, false);
  EXPECT_EQ(job.status.progress, 1);
  EXPECT_EQ(job.status.latest_checkpoint, "jobs/" + id + "/ppo");
  EXPECT_GT(job.status.policy_version, 0u);
  const std::vector<EventRecord> events = Events(id);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence, i + 1);
  int round_events = 0, checkpoints = 0;
  for (const EventRecord& e : events) {
    round_events += e.type == 5;
    checkpoints += e.type == 8;
  }
  EXPECT_EQ(round_events, 3);
  EXPECT_EQ(checkpoints, 2);  // after round 1 (every 2) and at the stage's end
  EXPECT_TRUE(store_->Leases()->empty());
}

TEST_F(CoordinatorCoreTest, HeldOutEvaluationsRunEveryNRoundsAndAtTheStagesEnd) {
  AddWorkers(1);
  StartCore();
  JobPlan plan = Plan(3);
  plan.stages[0].evaluation.prompt_data = plan.stages[0].prompt_data;
  plan.stages[0].evaluation.every = 2;
  plan.stages[0].evaluation.max_prompts = 3;
  plan.stages[0].evaluation.sampling.num_samples = 1;
  const std::string id = Submit(plan);
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded)) << JobStateName(StateOf(id));
  std::vector<int> evaluated_after;
  for (const EventRecord& e : Events(id)) {
    if (e.type == 12 && e.message.find("failed") != std::string::npos) ADD_FAILURE() << e.message;
    if (e.type != 9) continue;
    evaluated_after.push_back(e.round);
    EXPECT_EQ(e.metrics.at("eval/rollouts"), 3);
    EXPECT_TRUE(e.metrics.contains("eval/reward_mean"));
    EXPECT_TRUE(e.metrics.contains("eval/kl"));
  }
  EXPECT_EQ(evaluated_after, (std::vector<int>{1, 2}));
  EXPECT_EQ(learners_[0]->train_calls().size(), 3u);  // evaluations train nothing
}

TEST_F(CoordinatorCoreTest, AJobPastItsDeadlineFailsWithDeadlineExceeded) {
  AddWorkers(1);
  static_cast<clients::FakeGenerator*>(*factory_.Generator("gen0:1"))
      ->SetFaults({.latency = absl::Milliseconds(100)});
  StartCore();
  JobPlan plan = Plan(100);
  plan.deadline = absl::Milliseconds(300);
  const std::string id = Submit(plan);
  ASSERT_TRUE(WaitForState(id, JobState::kFailed));
  const JobRecord job = *store_->GetJob(id, false);
  EXPECT_EQ(job.status.last_error_code, static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_NE(job.status.last_error.find("deadline"), std::string::npos);
  EXPECT_LT(store_->CompletedRounds(id)->size(), 100u);
  EXPECT_TRUE(WaitFor([&] { return store_->Leases()->empty(); }));
}

TEST_F(CoordinatorCoreTest, AJobFailingForAWorkersReasonRestartsFromItsLastRoundUpToMaxRetries) {
  AddWorkers(1);
  // The learner answers INTERNAL once round 0 is done (StartSession, GetStatus, Train, Publish).
  learners_[0]->SetFaults({.fail_after_calls = 4, .failure = absl::InternalError("disk hiccup")});
  StartCore();
  JobPlan plan = Plan(3);
  plan.stages[0].scheduling.retry.max_round_restarts = 0;
  plan.stages[0].scheduling.retry.initial_backoff = absl::Milliseconds(300);
  plan.stages[0].scheduling.retry.max_attempts = 1;
  plan.max_retries = 2;
  const std::string id = Submit(plan);
  auto restarts = [&] {
    int n = 0;
    for (const EventRecord& e : Events(id)) {
      n += e.type == 10 && e.message.find("restarting the job") != std::string::npos;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return restarts() >= 1; }));
  learners_[0]->SetFaults({});  // healed
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded))
      << store_->GetJob(id, false)->status.last_error;
  EXPECT_EQ(store_->CompletedRounds(id)->size(), 3u);
  EXPECT_GE(store_->GetJob(id, false)->status.retries, 1);

  // Without healing, the job fails after max_retries restarts, with the last error.
  learners_[0]->SetFaults({.fail_after_calls = 0, .failure = absl::InternalError("disk gone")});
  const std::string doomed = Submit(plan);
  ASSERT_TRUE(WaitForState(doomed, JobState::kFailed));
  int doomed_restarts = 0;
  for (const EventRecord& e : Events(doomed)) {
    doomed_restarts += e.type == 10 && e.message.find("restarting the job") != std::string::npos;
  }
  EXPECT_EQ(doomed_restarts, 2);
  EXPECT_NE(store_->GetJob(doomed, false)->status.last_error.find("disk gone"), std::string::npos);
}

// Asynchronous rounds: each Train of round n starts only once the generator has been asked for
// round n + 1 (the learner waits up to 5 s for it and counts it), so every Train overlapping the
// next generation proves the pipeline; every round is still trained exactly once.
TEST_F(CoordinatorCoreTest, AsynchronousRoundsGenerateTheNextRoundWhileTheLearnerTrains) {
  AddWorkers(1);
  auto* generator = static_cast<clients::FakeGenerator*>(*factory_.Generator("gen0:1"));
  factory_.GateTrainOnNextGeneration("learner0:1", generator, 4);
  StartCore();
  JobPlan plan = Plan(4);
  plan.stages[0].scheduling.round_mode = RoundMode::kAsync;
  plan.stages[0].scheduling.max_policy_lag = 1;
  const std::string id = Submit(plan);
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded))
      << store_->GetJob(id, false)->status.last_error;
  const std::vector<RoundRecord> rounds = *store_->CompletedRounds(id);
  ASSERT_EQ(rounds.size(), 4u);
  for (const RoundRecord& r : rounds) {
    EXPECT_EQ(r.metrics.at("dropped_stale_rollouts"), 0) << r.round;
    EXPECT_EQ(r.metrics.at("rollouts"), 8) << r.round;
  }
  // Trains of rounds 0, 1 and 2 overlapped the generation of the next round; round 3 has none.
  EXPECT_EQ(factory_.overlapped_trains(), 3);
  std::multiset<uint64_t> trained;
  for (const clients::TrainCall& call : learners_[0]->train_calls()) trained.insert(call.sequence);
  EXPECT_EQ(trained, (std::multiset<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(generator->jobs().size(), 4u);  // no round generated twice
}

TEST_F(CoordinatorCoreTest, TwoJobsRunAtOnceAndAThirdWaitsForWorkersWithTheReason) {
  AddWorkers(2);
  for (const char* g : {"gen0:1", "gen1:1"}) {
    static_cast<clients::FakeGenerator*>(*factory_.Generator(g))
        ->SetFaults({.latency = absl::Milliseconds(100)});
  }
  StartCore();
  // One generator each (generator_replicas 0 would take every free one).
  JobPlan plan = Plan(4);
  plan.stages[0].scheduling.generator_replicas = 1;
  const std::string a = Submit(plan);
  const std::string b = Submit(plan);
  const std::string c = Submit(Plan(1));
  ASSERT_TRUE(WaitFor(
      [&] { return StateOf(a) == JobState::kRunning && StateOf(b) == JobState::kRunning; }));
  ASSERT_TRUE(WaitFor([&] {
    return store_->GetJob(c, false)->status.last_error.find("learner") != std::string::npos;
  }));
  EXPECT_EQ(StateOf(c), JobState::kQueued);
  EXPECT_NE(store_->GetJob(c, false)->status.last_error.find("waiting for workers"),
            std::string::npos);
  ASSERT_TRUE(WaitForState(c, JobState::kSucceeded));
  EXPECT_EQ(StateOf(a), JobState::kSucceeded);
  EXPECT_EQ(StateOf(b), JobState::kSucceeded);
}

TEST_F(CoordinatorCoreTest, CancellingARunningJobStopsItAndFreesItsWorkers) {
  AddWorkers(1);
  static_cast<clients::FakeGenerator*>(*factory_.Generator("gen0:1"))
      ->SetFaults({.latency = absl::Milliseconds(200)});
  StartCore();
  const std::string id = Submit(Plan(50));
  ASSERT_TRUE(WaitFor([&] { return !store_->CompletedRounds(id)->empty(); }));
  ASSERT_TRUE(core_->Cancel(id, "enough").ok());
  ASSERT_TRUE(WaitForState(id, JobState::kCancelled));
  EXPECT_LT(store_->CompletedRounds(id)->size(), 50u);
  EXPECT_TRUE(WaitFor([&] { return store_->Leases()->empty(); }));
  // Cancelling again is fine; a queued job is cancelled at once.
  EXPECT_TRUE(core_->Cancel(id, "").ok());
  // A second job can use the freed workers.
  const std::string next = Submit(Plan(1));
  EXPECT_TRUE(WaitForState(next, JobState::kSucceeded));
}

TEST_F(CoordinatorCoreTest, ARestartedCoordinatorResumesAfterTheLastCompletedRound) {
  AddWorkers(1);
  static_cast<clients::FakeGenerator*>(*factory_.Generator("gen0:1"))
      ->SetFaults({.latency = absl::Milliseconds(100)});
  StartCore();
  const std::string id = Submit(Plan(6));
  ASSERT_TRUE(WaitFor([&] { return store_->CompletedRounds(id)->size() >= 2; }));
  core_->Stop();
  core_.reset();
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  StartCore();
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded));
  const std::vector<RoundRecord> rounds = *store_->CompletedRounds(id);
  ASSERT_EQ(rounds.size(), 6u);
  // The learner kept the session: each round's Train sequence was trained exactly once.
  std::multiset<uint64_t> trained;
  for (const clients::TrainCall& call : learners_[0]->train_calls()) trained.insert(call.sequence);
  EXPECT_EQ(trained, (std::multiset<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(learners_[0]->sessions_started_from().size(), 1u);
}

TEST_F(CoordinatorCoreTest, ALostScorerPausesTheJobUntilOneIsHealthyAgain) {
  AddWorkers(1);
  auto* scorer = static_cast<clients::FakeScorer*>(*factory_.Scorer("scorer:1"));
  static_cast<clients::FakeGenerator*>(*factory_.Generator("gen0:1"))
      ->SetFaults({.latency = absl::Milliseconds(50)});
  StartCore();
  const std::string id = Submit(Plan(5));
  ASSERT_TRUE(WaitFor([&] { return !store_->CompletedRounds(id)->empty(); }));
  // The scorer dies: its calls fail and its health check stops answering.
  {
    absl::MutexLock lock(&plans_mu_);
    down_.insert("scorer:1");
  }
  scorer->SetFaults({.fail_after_calls = 0});
  ASSERT_TRUE(WaitFor([&] {
    for (const EventRecord& e : Events(id)) {
      if (e.type == 11 && e.message.find("no healthy scorer") != std::string::npos) return true;
    }
    return false;
  }));
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  // It comes back: the job resumes and finishes every round once.
  scorer->SetFaults({});
  {
    absl::MutexLock lock(&plans_mu_);
    down_.clear();
  }
  ASSERT_TRUE(WaitForState(id, JobState::kSucceeded));
  const std::vector<RoundRecord> rounds = *store_->CompletedRounds(id);
  ASSERT_EQ(rounds.size(), 5u);
  std::multiset<uint64_t> trained;
  for (const clients::TrainCall& call : learners_[0]->train_calls()) trained.insert(call.sequence);
  EXPECT_EQ(trained, (std::multiset<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_GT(store_->GetJob(id, false)->status.retries, 0);
}

}  // namespace
}  // namespace plumb::coordinator

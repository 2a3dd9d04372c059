#!/usr/bin/env bash
# The quickstart: on a fresh Debian 12 machine, installs what Plumb needs, builds the services,
# starts a whole cluster on this machine (plumbctl local up --config-dir configs/quickstart),
# submits the quickstart job (configs/jobs/quickstart.yaml: SFT of a byte-level model on the
# fortunes corpus -> held-out evaluation by the AFINN-165 judge -> a reward model trained on
# the judge's labels of the model's own samples -> rejection sampling -> PPO -> evaluation
# again), shows its progress, and ends with `plumbctl report`: the judge's score before and
# after with 95% intervals, unique responses, length, distinct-2, KL, samples, a plot.
#
# Usage: scripts/quickstart.sh [--keep]   (--keep leaves the cluster running afterwards)
# Everything it writes is under .plumb/quickstart; the report under
# .plumb/quickstart/checkpoints/quickstart/report. Exit status: 0 when the job succeeded and the
# report's checks passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target plumb-coordinator plumbctl \
  plumb-generator plumb-reference plumb-scorer plumb-learner plumb-model

bin=build/bin
run=$PWD/.plumb/quickstart
mkdir -p "$run/models" "$run/data/prompts"
# The policy: a 3.3M-parameter byte-level Llama-family model with random weights; the scorer's
# reward model starts as the same shape with a reward head reading the response mean, as the
# job's reward-model stage trains it (it publishes its weights there). Rewritten every run, so
# that a folder from an older quickstart never disagrees with the job.
[[ -f "$run/models/policy/config.json" ]] ||
  "$bin/plumb-model" init --out "$run/models/policy" --size 3m --seed 1 >/dev/null
"$bin/plumb-model" init --out "$run/models/rm_init" --size 3m --seed 2 --reward-outputs 1 \
  --reward-readout response_mean --force >/dev/null
# Prompts: the first three words of each fortune, about 10% held out for evaluation.
python3 scripts/make_quickstart_data.py /usr/share/games/fortunes "$run/data/prompts"

local_flags=(--config-dir configs/quickstart --run-dir "$run")
"$bin/plumbctl" local up "${local_flags[@]}"
# shellcheck disable=SC2317  # called by the EXIT trap
stop_cluster() { [[ $keep == 1 ]] || "$bin/plumbctl" local down "${local_flags[@]}" >/dev/null; }
trap stop_cluster EXIT

start=$(date +%s)
job=$("$bin/plumbctl" submit configs/jobs/quickstart.yaml)
echo "submitted $job; following it (plumbctl watch $job)"
state=0
"$bin/plumbctl" watch "$job" || state=$?
echo "the job ran $(( $(date +%s) - start )) s"
report=0
"$bin/plumbctl" report "$job" --out "$run/checkpoints/quickstart/report" || report=$?
if [[ $state != 0 ]]; then
  echo "quickstart: the job did not succeed (plumbctl status $job; logs in $run/logs)" >&2
  exit 1
fi
grep -q '"passed": true' "$run/checkpoints/quickstart/report/report.json" || {
  echo "quickstart: the report's checks did not all pass (see above)" >&2
  exit 1
}
exit "$report"

"""The quickstart pipeline on Plumb's services beside the same pipeline as one eager PyTorch script
(bench/quickstart_peer.py), alternating, on this machine; prints a Markdown table of each stage's
median seconds and the ratio PyTorch / Plumb (> 1: Plumb is faster).

Both run the same job spec: configs/jobs/quickstart.yaml with every step and round count
multiplied by --scale (so several repetitions fit), written as JSON to --work. Plumb runs it on the
quickstart cluster, which must be up (scripts/quickstart.sh --keep, or
`plumbctl local up --config-dir configs/quickstart --run-dir .plumb/quickstart`); its per-stage
seconds come from `plumbctl report` (whole seconds, from the stage events). The peer loads the
same initial weights (.plumb/quickstart/models/policy) and prompts.

usage: /usr/bin/python3 bench/quickstart_bench.py [--reps 3] [--scale 0.2] [--work DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, ".plumb", "quickstart")
PLUMBCTL = os.path.join(ROOT, "build", "bin", "plumbctl")


def scaled_job(scale, name, output_dir):
    """quickstart.yaml with step and round counts times `scale` (at least 1 each)."""
    with open(os.path.join(ROOT, "configs", "jobs", "quickstart.yaml"), encoding="utf-8") as f:
        job = yaml.safe_load(f)
    job["name"], job["output_dir"] = name, output_dir
    for stage in job["stages"]:
        for key in ("rounds", "max_train_steps"):
            if key in stage:
                stage[key] = max(1, round(stage[key] * scale))
        optimizer = stage.get("training", {}).get("optimizer", {})
        for key in ("warmup_steps", "total_steps"):
            if key in optimizer:
                optimizer[key] = max(1, round(optimizer[key] * scale))
        if optimizer.get("total_steps", 0) and optimizer["total_steps"] <= optimizer.get(
                "warmup_steps", 0):
            optimizer["total_steps"] = optimizer["warmup_steps"] + 1
        models = stage.get("models", {})
        if "reference_checkpoint" in models:  # the SFT stage's output of this job
            models["reference_checkpoint"] = output_dir + "/sft"
    return job


def run_plumb(job_path, out_dir):
    job = subprocess.run([PLUMBCTL, "submit", job_path], check=True, capture_output=True,
                         text=True).stdout.strip()
    subprocess.run([PLUMBCTL, "watch", job], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PLUMBCTL, "report", job, "--out", out_dir], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    return {s["name"]: float(s["seconds"]) for s in report["stages"] if "seconds" in s}


def run_peer(job_path, out_path):
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "quickstart_peer.py"),
                    "--job", job_path, "--policy", os.path.join(RUN, "models", "policy"),
                    "--data", os.path.join(RUN, "data"), "--out", out_path], check=True,
                   stdout=subprocess.DEVNULL)
    with open(out_path, encoding="utf-8") as f:
        summary = json.load(f)
    summary = summary.get("summary", summary)
    return {s["stage"]: float(s["seconds"]) for s in summary["stages"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--work", default=os.path.join(RUN, "checkpoints", "bench"))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    plumb, peer, order = [], [], []
    for rep in range(args.reps):
        name = f"bench-{rep}"
        # JSON: a job spec both readers take (and YAML would fold the "\n" stop strings).
        job_path = os.path.join(args.work, f"{name}.json")
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(scaled_job(args.scale, name, f"checkpoints/bench/{name}"), f, indent=1)
        plumb.append(run_plumb(job_path, os.path.join(args.work, f"{name}-report")))
        peer.append(run_peer(job_path, os.path.join(args.work, f"{name}-peer.json")))
        order = order or list(plumb[0])
        print(f"rep {rep}: plumb {plumb[-1]} peer {peer[-1]}", file=sys.stderr, flush=True)
    print(f"| stage | Plumb (s) | PyTorch script (s) | PyTorch / Plumb |")
    print("|---|---|---|---|")
    totals = [0.0, 0.0]
    for stage in order:
        a = statistics.median(p[stage] for p in plumb)
        b = statistics.median(p[stage] for p in peer)
        totals[0] += a
        totals[1] += b
        print(f"| {stage} | {a:.0f} | {b:.1f} | {b / a:.2f} |" if a else f"| {stage} | <1 | {b:.1f} | - |")
    print(f"| whole pipeline | {totals[0]:.0f} | {totals[1]:.1f} | {totals[1] / totals[0]:.2f} |")


if __name__ == "__main__":
    main()

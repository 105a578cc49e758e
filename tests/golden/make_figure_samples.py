"""Sample training curves and features for the golden run records (sample data, not
measurements), so the HTML report's figures have something to draw: a metrics.jsonl per run,
shaped like the training loop's (train lines every `log_every` steps, an eval line every
`eval_every`) and ending on the run's own result.json accuracies; and, for the seed-0 RevGrad and
source-only runs of each task, a small features.npz (source vs target clusters, farther apart
without adaptation) with its proxy A-distance written into result.json as "pad".

Deterministic; rerun after changing it, then regenerate the golden report files:

    .venv/bin/python tests/golden/make_figure_samples.py
    .venv/bin/python tests/test_report.py --regenerate
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dabench.analysis.proxy_a_distance import proxy_a_distance

RUNS = Path(__file__).resolve().parent / "runs"
FEATURES = {"revgrad": 1.0, "source-only": 12.0}  # distance between the domains' cluster centres


def metrics_lines(cfg: dict, result: dict, rng: np.random.Generator) -> list[dict]:
    steps, log_every, eval_every = cfg["steps"], cfg["log_every"], cfg["eval_every"]
    adapt = cfg["method"] == "revgrad"
    last, best = result["target_acc_last"], result["target_acc_best"]
    best_step = result.get("best_step", steps)
    src_last = result.get("source_acc_last", 0.95)
    lines = []
    for step in range(log_every, steps + 1, log_every):
        p = step / steps
        cls = 2.3 * math.exp(-6 * p) + 0.08 + 0.02 * rng.random()
        line = {"step": step, "kind": "train", "cls": cls,
                "lambda": 2 / (1 + math.exp(-cfg["grl.gamma"] * p)) - 1 if adapt else 0.0,
                "lr": cfg["optim.lr"] / (1 + cfg["optim.lr_alpha"] * p) ** cfg["optim.lr_beta"]}
        if adapt:
            line["domain_feature"] = 0.69 - 0.25 * math.exp(-8 * p) + 0.03 * rng.random()
        line["loss"] = cls + line.get("domain_feature", 0.0)
        lines.append(line)
        if step % eval_every == 0 or step == steps:
            if step == steps:
                acc = last
            elif step == best_step:
                acc = best
            else:  # rising towards the last value, never above the recorded best
                acc = min(best - 0.005, last * (1 - 0.5 * math.exp(-5 * p)) + 0.01 * rng.random())
            total = result.get("target_total", 1000)
            lines.append({"step": step, "kind": "eval", "target_acc": acc,
                          "source_acc": src_last * (1 - 0.3 * math.exp(-6 * p)),
                          "target_correct": round(acc * total), "target_total": total})
    return lines


def write_features(run: Path, method: str, rng: np.random.Generator, n: int = 80,
                   dim: int = 16) -> float:
    shift = np.zeros(dim)
    shift[:4] = FEATURES[method] / 2
    centres = rng.normal(0, 1.5, (10, dim))
    feats, labels = {}, {}
    for name, sign in (("source", -1), ("target", 1)):
        y = rng.integers(0, 10, n)
        feats[name] = (centres[y] + sign * shift + rng.normal(0, 1, (n, dim))).astype(np.float32)
        labels[name] = y
    np.savez_compressed(run / "features.npz",
                        **{f"{k}_features": v.astype(np.float16) for k, v in feats.items()},
                        **{f"{k}_labels": v for k, v in labels.items()})
    return round(float(proxy_a_distance(feats["source"], feats["target"])), 4)


def main() -> None:
    for run in sorted(RUNS.glob("*/*/*")):
        if not (run / "result.json").is_file():
            continue  # unfinished: no result to end on
        result = json.loads((run / "result.json").read_text())
        cfg = result["config"]
        rng = np.random.default_rng(cfg["seed"] + 100 * len(result["task"]))
        lines = metrics_lines(cfg, result, rng)
        (run / "metrics.jsonl").write_text("".join(json.dumps(x, sort_keys=True) + "\n"
                                                   for x in lines))
        if cfg["seed"] == 0 and cfg["method"] in FEATURES:
            result["pad"] = write_features(run, cfg["method"], rng)
            (run / "result.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"wrote {run}")


if __name__ == "__main__":
    main()

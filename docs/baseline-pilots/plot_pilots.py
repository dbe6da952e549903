"""Draw docs/baseline-pilots.png from the pilots' logs in this folder:
``python docs/baseline-pilots/plot_pilots.py``."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
LABELS = {
    "ant-static-adam": "Adam lr 0.01, sigma 0.02, L2 0.005, init N(0, 0.1^2)",
    "ant-static-sgd": "SGD lr 0.0716, sigma 0.1, init N(0, 0.1^2)",
    "ant-static-sgd-paper-init": "SGD lr 0.0716, sigma 0.1, init N(0, 1) (paper)",
}

figure, axis = plt.subplots(figsize=(8, 4.5))
for name, label in LABELS.items():
    rows = [json.loads(line) for line in (HERE / name / "log.jsonl").read_text().splitlines()]
    axis.plot([r["env_steps"] / 1e6 for r in rows], [r["fitness_mean"] for r in rows], marker=".", label=label)
axis.set_xlabel("env steps (millions)")
axis.set_ylabel("population mean fitness")
axis.set_title("Static ant pilots, P = 64, long-front held out (2-core machine, 1 worker each)", fontsize=10)
axis.grid(alpha=0.3)
axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(HERE.parent / "baseline-pilots.png", dpi=110)

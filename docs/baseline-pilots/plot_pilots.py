"""Draw docs/baseline-pilots.png (ant) and docs/baseline-pilots-car.png (car) from the
pilots' logs in this folder: ``python docs/baseline-pilots/plot_pilots.py``."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
ANT = {
    "ant-static-adam": "Adam lr 0.01, sigma 0.02, L2 0.005, init N(0, 0.1^2)",
    "ant-static-sgd": "SGD lr 0.0716, sigma 0.1, init N(0, 0.1^2)",
    "ant-static-sgd-paper-init": "SGD lr 0.0716, sigma 0.1, init N(0, 1) (paper)",
}
#: Car pilots in two panels: before hebbbench 0.4 (ties broken by position) and after (ties share their rank).
CAR_POSITION_TIES = {
    "car-B-sgd-init0.3": "SGD 0.16, sigma 0.1, init N(0, 0.3^2)",
    "car-E-sgd-fanin": "SGD 0.16, sigma 0.1, fan-in",
    "car-F-adam0.01-sigma0.02-fanin": "Adam 0.01, sigma 0.02, fan-in",
    "car-G-adam0.01-sigma0.05-fanin": "Adam 0.01, sigma 0.05, fan-in",
    "car-H-sgd-paper-init-per-pair": "SGD 0.16, sigma 0.1, N(0, 1), per-pair seeds",
}
CAR_SHARED_TIES = {
    "car-TA-sgd-paper-init": "SGD 0.16, sigma 0.1, N(0, 1) (paper's rule)",
    "car-TE-sgd-fanin": "SGD 0.16, sigma 0.1, fan-in",
    "car-J-adam0.02-fanin": "Adam 0.02, sigma 0.1, fan-in (the recipe)",
    "car-HP-hebbian-sgd-paper-init": "Hebbian: SGD 0.16, sigma 0.1, N(0, 1)",
    "car-HJ-hebbian-adam0.02-fanin": "Hebbian: Adam 0.02, sigma 0.1, fan-in conv",
    "car-HK-hebbian-adam0.05-fanin": "Hebbian: Adam 0.05, sigma 0.1, fan-in conv",
    "car-HL-hebbian-adam0.02-fanin-rules0.1": "Hebbian: Adam 0.02, sigma 0.1, fan-in conv, rules N(0, 0.1^2)",
}


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / name / "log.jsonl").read_text().splitlines()]


def _ant() -> None:
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, label in ANT.items():
        rows = _rows(name)
        axis.plot([r["env_steps"] / 1e6 for r in rows], [r["fitness_mean"] for r in rows], marker=".", label=label)
    axis.set_xlabel("env steps (millions)")
    axis.set_ylabel("population mean fitness")
    axis.set_title("Static ant pilots, P = 64, long-front held out (2-core machine, 1 worker each)", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(HERE.parent / "baseline-pilots.png", dpi=110)


def _car() -> None:
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    panels = [(CAR_POSITION_TIES, "ties broken by position (hebbbench < 0.4)"),
              (CAR_SHARED_TIES, "ties share their rank (hebbbench 0.4)")]
    for axis, (pilots, title) in zip(axes, panels):
        for name, label in pilots.items():
            rows = _rows(name)
            axis.plot([r["generation"] for r in rows], [r["fitness_mean"] for r in rows], marker=".", label=label)
        axis.set_xlabel("generation")
        axis.set_title(f"Car pilots, P = 128, default variation: {title}", fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    axes[0].set_ylabel("population mean fitness")
    figure.tight_layout()
    figure.savefig(HERE.parent / "baseline-pilots-car.png", dpi=110)


if __name__ == "__main__":
    _ant()
    _car()

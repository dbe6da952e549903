"""Draw docs/es-efficiency-pilots.png (ant) and docs/es-efficiency-pilots-car.png from the
ES-efficiency pilots' logs in this folder and the runs of today's static recipes
(leaderboard/agents/ant-static-baseline, car-static-baseline), against env steps, and print
their tables: ``python docs/baseline-pilots/es-efficiency/plot.py``."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
#: Log folder -> label; the first is the control (the old recipe, its own run).
PILOTS = {
    ROOT / "leaderboard/agents/ant-static-baseline": "today's recipe: OpenAI-ES, SGD, N(0, 1) (control)",
    HERE / "ant-static-obsnorm": "+ observation normalisation",
    HERE / "ant-static-pgpe": "PGPE + ClipUp (speed 0.74), N(0, 1)",
    HERE / "ant-static-pgpe-obsnorm-fanin": "PGPE + ClipUp (0.3) + obs. norm., fan-in start, sigma 0.02",
    HERE / "ant-static-pgpe-obsnorm-fast": "PGPE + ClipUp (3.0) + obs. norm., N(0, 1)",
    HERE / "ant-static-control-seed1": "today's recipe, seed 1 (today's hebbbench)",
    HERE / "ant-static-per-pair": "per-pair variations, seed 1 (schedules per env step as the control)",
    HERE / "ant-static-per-pair-seed0": "per-pair variations, seed 0 (schedules per env step as the control)",
    HERE / "ant-static-p64-seed0": "population 64, seed 0 (schedules per env step as the control)",
    HERE / "ant-static-p64-seed1": "population 64, seed 1 (schedules per env step as the control)",
}
#: The car's: its static baseline run (control) and per-pair sampling on its recipe.
CAR_PILOTS = {
    ROOT / "leaderboard/agents/car-static-baseline": "today's car recipe: OpenAI-ES, Adam, fan-in (control)",
    HERE / "car-static-per-pair": "per-pair variations (same recipe, seed 0)",
    HERE / "car-static-control-seed1": "today's car recipe, seed 1 (today's hebbbench)",
    HERE / "car-static-per-pair-seed1": "per-pair variations, seed 1",
}
BUDGET = 8e6  # env steps shown
WINDOW = 0.6e6  # env steps each table cell averages over (about three of the control's generations)


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]


def main() -> None:
    draw(PILOTS, "Static ant, P = 128, long-front held out, seed 0 unless named (2-core machine, 1 worker each)",
         "(500-step episodes)", ROOT / "docs" / "es-efficiency-pilots.png")
    draw(CAR_PILOTS, "Static car, P = 128, pushed-right held out, seed 0 unless named (2-core machine, 1 worker each)",
         "(full-length episodes)", ROOT / "docs" / "es-efficiency-pilots-car.png")
    print(table(PILOTS))
    print()
    print(table(CAR_PILOTS, budgets=(1e6, 2e6, 3e6, 4e6, 6e6), levels=(25, 50, 100)))


def draw(pilots: dict[Path, str], title: str, episodes: str, out: Path) -> None:
    """One figure: each pilot's :func:`smoothed` curve up to :data:`BUDGET` env steps."""
    figure, axis = plt.subplots(figsize=(8.5, 4.8))
    for folder, label in pilots.items():
        if not (folder / "log.jsonl").is_file():
            continue
        curve = [(steps, mean) for steps, mean in smoothed(_rows(folder)) if steps <= BUDGET]
        axis.plot([steps / 1e6 for steps, _ in curve], [mean for _, mean in curve], label=label)
    axis.set_xlabel("env steps (millions)")
    axis.set_ylabel(f"population mean fitness, mean of the last {WINDOW / 1e6:g}M steps' generations\n"
                    + episodes, fontsize=9)
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def smoothed(rows: list[dict], window: float = WINDOW) -> list[tuple[float, float]]:
    """(env steps, population mean fitness averaged over the generations of the last ``window``
    env steps): runs whose generations differ in env steps (per-pair sampling plays a quarter
    of the episodes) are smoothed alike."""
    curve = []
    for row in rows:
        within = [r["fitness_mean"] for r in rows if row["env_steps"] - window < r["env_steps"] <= row["env_steps"]]
        curve.append((row["env_steps"], sum(within) / len(within)))
    return curve


def table(pilots: dict[Path, str], budgets: tuple[float, ...] = (1e6, 2e6, 3e6, 4e6, 6e6, 8e6),
          levels: tuple[float, ...] = (25, 50, 100)) -> str:
    """Markdown: each of ``pilots``' population-mean fitness at env-step budgets (averaged over the
    generations of the last :data:`WINDOW` env steps within the budget, smoothing
    one-generation noise), and the env steps at which that average first reached each level."""
    heads = [f"{b / 1e6:g}M" for b in budgets] + [f"steps to {level:g}" for level in levels]
    lines = ["| pilot | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 1)]
    for folder, label in pilots.items():
        if not (folder / "log.jsonl").is_file():
            continue
        curve = smoothed(_rows(folder))
        cells = []
        for budget in budgets:
            within = [mean for steps, mean in curve if steps <= budget]
            cells.append(f"{within[-1]:.1f}" if within and curve[-1][0] >= budget else "-")
        for level in levels:
            reached = next((steps for steps, mean in curve if mean >= level), None)
            cells.append(f"{reached / 1e6:.2f}M" if reached else f"not by {curve[-1][0] / 1e6:.1f}M")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""The paper's own numbers (its Tables 1 and 2), shown apart from the board's entries."""

from __future__ import annotations

from typing import Any, Sequence

from hebbbench.envs import PAPER_HOLDOUT

#: Tables 1 and 2 of Palm, Najarro & Risi (2021), "Testing the Genomic Bottleneck Hypothesis
#: in Hebbian Meta-Learning", as printed (mean +- std over 100 samples, rounded); "" where
#: the paper ran no evaluation. Not runs of this package.
PAPER_TABLES: dict[str, dict[str, Any]] = {
    "ant": {
        "caption": "Table 1: Ant environment results. Average distance traveled. Mean and "
                   "standard deviation from 100 samples. Rounded to nearest integer.",
        "columns": ["default", "damage-left", "damage-right", "long-back", "long-front"],
        "rows": [
            ("Static", ["1545 ± 30", "839 ± 60", "1891 ± 105", "1197 ± 31", "202 ± 174"]),
            ("LSTM", ["1097 ± 57", "1374 ± 74", "1240 ± 140", "806 ± 113", "314 ± 115"]),
            ("Hebbian", ["928 ± 88", "1102 ± 164", "981 ± 140", "741 ± 169", "364 ± 131"]),
            ("Shared (ρ = 32)", ["2 ± 12", "", "", "", ""]),
            ("Shared (ρ = 64)", ["3 ± 13", "", "", "", ""]),
            ("Shared (ρ = 128)", ["0 ± 10", "-9 ± 18", "15 ± 31", "1 ± 6", "0 ± 4"]),
            ("Shared (ρ = 256)", ["2 ± 12", "", "", "", ""]),
            ("Shared (ρ = N)", ["-1 ± 0", "", "", "", ""]),
        ],
    },
    "car": {
        "caption": "Table 2: Car racing environment results. Average distance traveled.",
        "columns": ["default", "half-friction", "double-friction", "pushed-left", "pushed-right"],
        "rows": [
            ("Static", ["784 ± 119", "491 ± 202", "789 ± 202", "738 ± 219", "628 ± 228"]),
            ("LSTM", ["680 ± 247", "375 ± 209", "711 ± 243", "653 ± 273", "610 ± 316"]),
            ("Hebbian", ["674 ± 135", "552 ± 190", "692 ± 120", "725 ± 139", "606 ± 186"]),
            ("Shared (ρ = 128)", ["6 ± 3", "5 ± 1", "8 ± 7", "6 ± 1", "6 ± 2"]),
        ],
    },
}

PAPER_NOTE = ("Numbers copied from Palm, Najarro & Risi (2021), *Testing the Genomic Bottleneck "
               "Hypothesis in Hebbian Meta-Learning*, Tables 1 and 2 (paper's models and code, "
               "not runs of this package; not ranked). Cells with \"-\": the paper evaluated shared "
               "rules at that ρ on the default variation only. Marked held out: the paper's fold, "
               "tested there and trained on the other four variations. The paper's Hebbian and "
               "shared-rule numbers include its coefficient penalty (-0.01 mean(h^2)), which "
               "this board's returns do not: its ant \"Shared (ρ = N)\" row, -1 ± 0, is most "
               "likely that penalty on an ant that does not move. Its evaluation drew 100 "
               "individuals from the search distribution of the best generation.")


def paper_markdown(tasks: Sequence[str]) -> list[str]:
    out = ["## Reported in the paper", "", PAPER_NOTE, ""]
    for name in tasks:
        table = PAPER_TABLES[name]
        columns = [f"**{c}** (held out)" if c == PAPER_HOLDOUT[name] else c for c in table["columns"]]
        out += [f"{name}: {table['caption']}", "", "| model | " + " | ".join(columns) + " |",
                "|" + "---|" * (len(columns) + 1)]
        out += ["| " + " | ".join([model] + [v or "-" for v in values]) + " |" for model, values in table["rows"]]
        out.append("")
    return out


#: The paper's post-hoc shared-rule runs (section 5.5, by task: the ant only, at rho = 128 on
#: the default morphology, after the pre-planned runs failed): what each changed, which run
#: config stands for it (the run's ``rho`` and ``es`` settings that differ from the shared-rule
#: recipe), and what the paper reports. Only the Adam run has a number; the others are the
#: paper's sentences.
PAPER_POSTHOC: dict[str, list[dict[str, Any]]] = {"ant": [
    {"change": "learning rate 0.01 (from 0.2)", "settings": {"es": {"optimizer": "sgd", "lr": 0.01}},
     "paper": "did not help"},
    {"change": "16 shared rules (rho = N / 16)", "settings": {"rho": 768}, "paper": "did not help"},
    {"change": "rule means from N(0, 10) (from N(0, 1))", "settings": {"es": {"means_init_std": 10.0}},
     "paper": "did not help"},
    {"change": "random fixed assignment (lambda not learned)", "settings": {"es": {"assignment": "random-fixed"}},
     "paper": "improved, still much worse than the baselines (not shown)"},
    {"change": "Adam, lr 1.0 x 0.9931 per update", "settings": {"es": {"optimizer": "adam", "lr": 1.0,
                                                                        "lr_decay": 0.9931}},
     "paper": "555 ± 89 on default, the best shared-rule result"},
]}


def posthoc_run(task: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The post-hoc run of :data:`PAPER_POSTHOC` on ``task`` whose settings a shared run's
    ``config`` (its ``config.json``) holds, or ``None`` for a run of the recipe itself."""
    es = config.get("es") or {}
    for run in PAPER_POSTHOC.get(task, []):
        wanted = run["settings"]
        if all(es.get(key) == value for key, value in wanted.get("es", {}).items()) \
                and all(config.get(key) == value for key, value in wanted.items() if key != "es"):
            return run
    return None

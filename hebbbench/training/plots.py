"""Learning curves of training runs (``hebbbench plot``)."""

from __future__ import annotations

from pathlib import Path

from hebbbench.training.run_dir import CONFIG_FILE, TrainConfig, read_log

#: Log keys of a shared-rule run's mixture (:meth:`hebbbench.es.GaussianMixtureES.tell`), drawn
#: in a second panel when the log has them: what explains whether the mixture learned.
MIXTURE_KEYS = {"entropy": "assignment entropy (nats)", "rules_in_use": "rules in use",
                "grad_norm_logits": "|grad lambda|", "grad_norm_means": "|grad mu|"}


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the learning curve of ``run_dir`` (population mean and best fitness per
    generation, against env steps on a second axis label) to ``out`` (default
    ``RUN_DIR-learning-curve.png`` beside the run directory: a file inside it would change
    the sha256 that results and ``verify`` match the run by). A shared-rule run gets a
    second panel: the mixture's entropy, rules in use and gradient norms (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_log(run_dir)
    if not rows:
        raise ValueError(f"{str(run_dir)!r} has no logged generations to plot")
    config = TrainConfig.from_file(run_dir / CONFIG_FILE)
    generations = [r["generation"] for r in rows]
    from matplotlib.ticker import MaxNLocator

    mixture = [key for key in MIXTURE_KEYS if key in rows[-1]]
    figure, axes = plt.subplots(1, 2 if mixture else 1, figsize=(14 if mixture else 8, 4.5), squeeze=False)
    axis = axes[0][0]
    axis.plot(generations, [r["fitness_mean"] for r in rows], label="population mean")
    axis.plot(generations, [r["fitness_max"] for r in rows], label="population best", alpha=0.7)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("generation")
    axis.set_ylabel("fitness\n(mean return over training variations)")
    axis.set_title(f"{config.agent} on {config.task}: {', '.join(config.variations)}\n"
                   f"P={config.population}, {len(rows)} generations, {rows[-1]['env_steps']:,} env steps",
                   fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend()
    if mixture:
        _mixture_panel(axes[0][1], rows, mixture)
    figure.tight_layout()
    out = Path(out) if out is not None else run_dir.parent / f"{run_dir.resolve().name}-learning-curve.png"
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out


def _mixture_panel(axis: object, rows: list[dict], keys: list[str]) -> None:
    """The mixture's state per generation, each series on one log-scaled axis."""
    generations = [r["generation"] for r in rows]
    for key in keys:
        axis.plot(generations, [max(r.get(key, float("nan")), 1e-12) for r in rows], label=MIXTURE_KEYS[key])
    axis.set_yscale("log")
    axis.set_xlabel("generation")
    axis.set_title("the mixture (uniform assignment: entropy log M)", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)

"""Figures of the course. Each function draws on a new figure, saves it when given a path, returns it.

Nothing here changes matplotlib's global settings.
"""

from __future__ import annotations

from pathlib import Path


def _figure(width: float = 6.4, height: float = 4.0):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _save(fig, path):
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def loss_curves(histories: dict[str, list[dict]], path=None, title="Training loss"):
    """Loss against step for several runs: ``{label: [{"step": s, "loss": l}, ...]}``."""
    fig, ax = _figure()
    for label, history in histories.items():
        if history:
            ax.plot([h["step"] for h in history], [h["loss"] for h in history], marker=".", label=label)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def rouge_bars(rows: list, metric: str = "rouge1", path=None, title=None):
    """Bars of one ROUGE score per method, with the bootstrap 95% interval as error bars.

    Args:
        rows: scored :class:`~peftlab.results.ComparisonRow` objects (``method``, the metric,
            ``ci95``); a row without an interval gets no error bar.
    """
    fig, ax = _figure()
    values = [getattr(row, metric) for row in rows]
    intervals = [(row.ci95 or {}).get(metric, (value, value)) for row, value in zip(rows, values)]
    errors = [[value - low for value, (low, _) in zip(values, intervals)],
              [high - value for value, (_, high) in zip(values, intervals)]]
    ax.bar([row.method for row in rows], values, yerr=errors, capsize=4, color="tab:blue", alpha=0.8)
    ax.set(ylabel=f"{metric} (F-measure)", title=title or f"{metric} with 95% bootstrap interval")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def sweep_plot(points: list[dict], x: str, y: str = "rouge1", second: str | None = None, path=None,
               title=None, logx: bool = True):
    """A sweep (e.g. LoRA rank or soft-prompt length) against a score, optionally a second axis."""
    fig, ax = _figure()
    xs = [p[x] for p in points]
    ax.plot(xs, [p[y] for p in points], marker="o", color="tab:blue", label=y)
    ax.set(xlabel=x, ylabel=y, title=title or f"{y} against {x}")
    if logx:
        ax.set_xscale("log", base=2)
    if second:
        ax2 = ax.twinx()
        ax2.plot(xs, [p[second] for p in points], marker="s", color="tab:orange", label=second)
        ax2.set_ylabel(second)
        if all(p[second] > 0 for p in points):
            ax2.set_yscale("log")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def memory_breakdown(parts: dict[str, dict[str, float]], path=None, title="Training memory (GB)"):
    """Stacked bars: ``{label: {"weights": gb, "gradients": gb, "optimizer": gb, ...}}``.

    Parts other than the four of the estimate (e.g. ``"measured"``) get their own colour.
    """
    fig, ax = _figure()
    methods = list(parts)
    bottoms = [0.0] * len(methods)
    known = ("weights", "gradients", "optimizer", "activations")
    keys = [k for k in known if any(k in parts[m] for m in methods)]
    keys += sorted({k for m in methods for k in parts[m] if k not in known})
    for key in keys:
        values = [parts[m].get(key, 0.0) for m in methods]
        ax.bar(methods, values, bottom=bottoms, label=key)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set(ylabel="GB", title=title)
    ax.legend()
    return _save(fig, path)


def tradeoff_scatter(rows: list, x: str, y: str, path=None, title=None, logx: bool = True):
    """One point per method (rows with ``method`` and attributes ``x``, ``y``): e.g. trainable
    parameters against ROUGE-1."""
    fig, ax = _figure()
    for row in rows:
        point = (getattr(row, x), getattr(row, y))
        ax.scatter(*point, s=60)
        ax.annotate(row.method, point, textcoords="offset points", xytext=(5, 5))
    ax.set(xlabel=x, ylabel=y, title=title or f"{y} against {x}")
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    return _save(fig, path)

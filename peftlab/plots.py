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
    """A sweep (e.g. LoRA rank or soft-prompt length) against a score, optionally a second axis.

    ``points`` may hold several rows per ``x`` (one per seed): each row is drawn as a dot, the
    line joins the means, and a bar spans min..max at each ``x``, so a reader sees whether the
    trend is larger than the spread across seeds. ``second`` is drawn as its mean per ``x``.
    """
    fig, ax = _figure()
    xs = list(dict.fromkeys(p[x] for p in points))

    def at(value, key):
        return [p[key] for p in points if p[x] == value and p.get(key) is not None]

    means = [sum(at(v, y)) / len(at(v, y)) for v in xs]
    several = any(len(at(v, y)) > 1 for v in xs)
    if several:
        ax.scatter([p[x] for p in points], [p[y] for p in points], s=18, color="tab:blue",
                   alpha=0.5, label=f"{y}, each seed")
        ax.vlines(xs, [min(at(v, y)) for v in xs], [max(at(v, y)) for v in xs],
                  color="tab:blue", alpha=0.4)
    ax.plot(xs, means, marker="o", color="tab:blue", label=f"{y}, mean" if several else y)
    ax.set(xlabel=x, ylabel=y, title=title or f"{y} against {x}")
    if logx:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(v) for v in xs])
    if second:
        ax2 = ax.twinx()
        values = [sum(at(v, second)) / len(at(v, second)) for v in xs]
        ax2.plot(xs, values, marker="s", linestyle="--", color="tab:orange", label=second)
        ax2.set_ylabel(second)
        if all(v > 0 for v in values):
            ax2.set_yscale("log")
    if several:
        ax.legend(loc="best")
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


def peft_map(shares: dict[str, float], path=None,
             title="The three classes of PEFT, with the trainable share of each method"):
    """The three classes of PEFT methods (Lialin et al. 2023) with the course's methods in them.

    Args:
        shares: the trainable share of the model, in percent, by method name as the results name
            it (``{"lora": 1.4, "prompt": 0.009, ...}``): this run's own figures. A method of the
            map without one reads "no share in this run"; names the map does not place
            (``full``, ``zero-shot``) are left out.
    """
    from matplotlib.patches import FancyBboxPatch

    from peftlab.methods.taxonomy import CLASS_SUMMARIES, PEFT_CLASSES, PLACEMENTS, SOURCE

    fig, ax = _figure(10.0, 4.6)
    ax.set(xlim=(0, len(PEFT_CLASSES)), ylim=(-0.06, 1.0))
    ax.set_title(title)
    ax.set_axis_off()
    for column, peft_class in enumerate(PEFT_CLASSES):
        colour = f"C{column}"
        ax.add_patch(FancyBboxPatch((column + 0.04, 0.04), 0.92, 0.8, boxstyle="round,pad=0.01",
                                    facecolor=colour, edgecolor=colour, alpha=0.15))
        ax.text(column + 0.5, 0.95, peft_class, ha="center", va="center", fontsize=11,
                fontweight="bold", color=colour)
        ax.text(column + 0.5, 0.885, f"trains {CLASS_SUMMARIES[peft_class]}", ha="center",
                va="center", fontsize=8.5)
        placed = [p for p in PLACEMENTS if p.peft_class == peft_class]
        step = 0.72 / len(placed)
        for row, placement in enumerate(placed):
            share = shares.get(placement.method)
            figure = "no share in this run" if share is None else f"{share:.3g}% trainable"
            group = f"[{placement.group}]\n" if placement.group else ""
            ax.text(column + 0.5, 0.8 - step * (row + 0.5), f"{group}{placement.label}\n{figure}",
                    ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": colour})
    ax.text(0.04, -0.03, f"classes: {SOURCE}; shares: trainable parameters / all parameters of "
            "the model, from this run", fontsize=7.5, va="center")
    return _save(fig, path)

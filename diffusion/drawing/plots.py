"""Plots with matplotlib (numpy in, RGB out): scatter plots, the direction field, measures against
guidance, loss curves. matplotlib loads on the first plot, with the Agg backend (no display)."""
from __future__ import annotations

import numpy as np

LIM = 1.35  # axes half-width: points live in [-1, 1], noise at t = T spreads wider


def _subplots(figsize: tuple[float, float], ncols: int = 1):
    import matplotlib
    matplotlib.use("Agg")  # no display on a server; set before pyplot is first imported
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=figsize, dpi=100, squeeze=False)
    return fig, axes[0]


def _figure(size: float = 4.0, ncols: int = 1):
    """ncols square panels of `size` inches."""
    return _subplots((size * ncols, size), ncols)


def _to_rgb(fig) -> np.ndarray:
    import matplotlib.pyplot as plt
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return rgb


DENSITY_LABEL = "colour: points per cell (local density)"


def scatter_ax(ax, pts: np.ndarray, title: str = "", lim: float = LIM, density: bool = True):
    """Points (n, 2), coloured by local density (a 2D histogram looked up per point). Returns
    the scatter, for a colour bar (`density_bar`)."""
    colors = "#1f77b4"
    if density and len(pts) > 1:
        h, xe, ye = np.histogram2d(pts[:, 0], pts[:, 1], bins=40, range=[[-lim, lim], [-lim, lim]])
        ix = np.clip(np.searchsorted(xe, pts[:, 0]) - 1, 0, 39)
        iy = np.clip(np.searchsorted(ye, pts[:, 1]) - 1, 0, 39)
        colors = h[ix, iy]
    sc = ax.scatter(pts[:, 0], pts[:, 1], s=4 if len(pts) > 500 else 9, c=colors, cmap="viridis", linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return sc


def density_bar(fig, ax, sc) -> None:
    """The legend of the point colours: a thin colour bar beside the axes."""
    bar = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label(DENSITY_LABEL, fontsize=7)
    bar.ax.tick_params(labelsize=6)


def scatter_png(pts: np.ndarray, title: str = "", size: float = 5.0) -> np.ndarray:
    fig, (ax,) = _figure(size)
    density_bar(fig, ax, scatter_ax(ax, pts, title))
    fig.tight_layout()
    return _to_rgb(fig)


FIELD_COLORS = {"unconditional": "#6c757d", "conditional": "#2a9d8f", "guided": "#e63946"}
FIELD_NAMES = {"unconditional": "uncond (empty label)", "conditional": "cond (the label)",
               "guided": "guided: uncond + s (cond - uncond)"}


def arrow_scale(field, kinds: list[str]) -> tuple[float, float]:
    """(factor, longest): every shown arrow is drawn `factor` times its true length, so that the
    longest of them (`longest`, in data units) spans 0.9 grid spacings and none reaches the next
    grid point. One factor for all kinds, so their lengths stay comparable."""
    xs = np.unique(field.points[:, 0])
    spacing = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    longest = max(float(np.hypot(*field.arrows[k].T).max()) for k in kinds)
    return (0.9 * spacing / longest if longest > 0 else 1.0), longest


def field_png(points: np.ndarray, field, kinds: list[str], title: str = "", note: str = "",
              size: float = 5.0) -> np.ndarray:
    """Points x_t with the denoiser's arrows x0_hat - x_t on its regular grid (see
    `core.field`); `field` may be None when `kinds` is empty. Arrows are scaled to the field's
    own range (`arrow_scale`); the scale is stated under the plot, after `note`."""
    fig, (ax,) = _figure(size)
    density_bar(fig, ax, scatter_ax(ax, points, title))
    lines = [note] if note else []
    if kinds:
        factor, longest = arrow_scale(field, kinds)
        for k in kinds:
            a = field.arrows[k]
            ax.quiver(field.points[:, 0], field.points[:, 1], a[:, 0], a[:, 1], color=FIELD_COLORS[k],
                      angles="xy", scale_units="xy", scale=1 / factor, width=0.004, headwidth=3.5,
                      headlength=4, alpha=0.9, label=FIELD_NAMES[k])
        lines.append(f"arrows drawn at {factor:.3g}x their length; the longest is {longest:.2f} "
                     f"(axes span {2 * LIM:g})")
        # below the axes: inside, the legend would hide arrows
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), ncol=len(kinds), fontsize=7, frameon=False,
                  title="\n".join(lines), title_fontsize=7, handlelength=1.5, columnspacing=1)
    elif lines:
        ax.set_xlabel("\n".join(lines), fontsize=7)
    fig.tight_layout()
    return _to_rgb(fig)


def metrics_png(xs: list[float], series: dict[str, list[float]], xlabel: str = "guidance scale",
                title: str = "", size: tuple[float, float] = (6.0, 3.2)) -> np.ndarray:
    """Two measures against one x axis (left and right y axes): the quality/diversity trade-off."""
    fig, (ax,) = _subplots(size)
    (n1, v1), *rest = series.items()
    ax.plot(xs, v1, "o-", color="#1d3557", label=n1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(n1, color="#1d3557")
    if rest:
        n2, v2 = rest[0]
        ax2 = ax.twinx()
        ax2.plot(xs, v2, "s--", color="#e76f51", label=n2)
        ax2.set_ylabel(n2, color="#e76f51")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _to_rgb(fig)


def loss_png(loss, val_loss, title: str = "", size: tuple[float, float] = (6.0, 3.0)) -> np.ndarray:
    """Training and held-out loss, (step, value) pairs each, on a log axis."""
    fig, (ax,) = _subplots(size)
    for pairs, name, style in ((loss, "training loss (running mean)", "-"), (val_loss, "held-out loss (EMA model)", "o-")):
        if pairs:
            s, v = zip(*pairs)
            ax.plot(s, v, style, ms=3, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("MSE on eps")
    if loss or val_loss:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _to_rgb(fig)


def _log_axis(ax, which: str, values: list[float], ticks: list[float] | None = None) -> bool:
    """Put ax's `which` ("x" or "y") axis on a log scale, labelled in plain numbers (1, 2, 5, 10, ...
    or the given ticks), when its positive values span more than 10x; True if it did."""
    from matplotlib import ticker  # loaded already: _subplots imported pyplot

    if not values or min(values) <= 0 or max(values) <= 10 * min(values):
        return False
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    if ticks:
        axis.set_major_locator(ticker.FixedLocator(ticks))
    else:
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.set_minor_formatter(ticker.NullFormatter())
    return True


def calls_png(rows: list[dict], names: tuple[str, ...], converged: tuple[str, int],
              size: float = 3.4) -> np.ndarray:
    """Quality per network call: one panel per (guidance, measure), the measure against steps on a
    log axis, one line per sampler; the converged sampler (`converged` = (sampler, steps)) as a
    dashed line. rows: dicts with guidance, sampler, steps and each measure. A measure that spans
    more than 10x gets a log axis too: the few-step runs are 10-100x off, and the converged end
    differs by percents (accuracy, which spans less, stays linear)."""
    guidances = sorted({r["guidance"] for r in rows})
    fig, axes = _subplots((size * len(guidances) * len(names), size), len(guidances) * len(names))
    k = 0
    for g in guidances:
        mine = [r for r in rows if r["guidance"] == g]
        ref = next(r for r in mine if (r["sampler"], r["steps"]) == converged)
        for name in names:
            ax = axes[k]
            k += 1
            for method in dict.fromkeys(r["sampler"] for r in mine):
                pts = sorted((r["steps"], r[name]) for r in mine if r["sampler"] == method and r is not ref)
                if pts:
                    ax.plot(*zip(*pts), "o-", ms=3, label=method)
            ax.axhline(ref[name], ls="--", color="gray", label=f"{converged[0]}-{converged[1]}")
            _log_axis(ax, "x", [r["steps"] for r in mine], ticks=sorted({r["steps"] for r in mine}))
            _log_axis(ax, "y", [r[name] for r in mine])
            ax.set_xlabel("network calls (steps)")
            ax.set_title(f"{name}, guidance {g:g}", fontsize=10)
            ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _to_rgb(fig)


def frontier_png(curves: dict[str, list[tuple[float, float, float]]], xlabel: str, ylabel: str,
                 title: str = "", size: tuple[float, float] = (6.0, 4.2)) -> np.ndarray:
    """The quality frontier: one curve per method through its guidance scales, each point
    (x, y, scale) labelled with its scale. curves: method -> points in scale order."""
    fig, (ax,) = _subplots(size)
    for method, pts in curves.items():
        if not pts:
            continue
        xs, ys, ss = zip(*pts)
        (line,) = ax.plot(xs, ys, "o-", ms=4, label=method)
        for x, y, s in pts:
            ax.annotate(f"{s:g}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7,
                        color=line.get_color())
    # One method far off (classifier guidance on MNIST: FLD 70-100 beside 5-20) would squash the
    # others into a corner; on a log axis every curve keeps its shape.
    if _log_axis(ax, "x", [x for pts in curves.values() for x, _, _ in pts]):
        xlabel += " (log scale)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if curves:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _to_rgb(fig)

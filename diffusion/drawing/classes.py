"""Labelled 2D points, one colour per class (the canvas's brush colours): a drawn data set, and
samples of a drawn model beside its reference. numpy in, RGB out (matplotlib, Agg)."""
from __future__ import annotations

import numpy as np

from .plots import LIM, _figure, _to_rgb

BRUSHES = ("#d62728", "#1f77b4", "#2ca02c")  # one colour per class: the drawing canvas's brushes too


def classes_ax(ax, pts: np.ndarray, labels: np.ndarray, names, title: str = "") -> None:
    """pts (n, 2) coloured by labels (n,) indices into names (a name per brush colour)."""
    for k, name in enumerate(names):
        part = pts[labels == k]
        ax.scatter(part[:, 0], part[:, 1], s=5, c=BRUSHES[k % len(BRUSHES)], linewidths=0,
                   label=f"{name} ({len(part)})")
    from matplotlib.patches import Rectangle
    ax.add_patch(Rectangle((-1, -1), 2, 2, fill=False, lw=0.6, ec="#999999"))  # the canvas
    ax.set_xlim(-LIM, LIM)
    ax.set_ylim(-LIM, LIM)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), ncol=len(names), fontsize=7, frameon=False,
              markerscale=2)
    if title:
        ax.set_title(title, fontsize=9)


def classes_png(pts: np.ndarray, labels: np.ndarray, names, title: str = "", size: float = 4.0) -> np.ndarray:
    fig, (ax,) = _figure(size)
    classes_ax(ax, pts, labels, names, title)
    fig.tight_layout()
    return _to_rgb(fig)


def panels_png(panels: list[tuple[np.ndarray, np.ndarray, str]], names, size: float = 3.6) -> np.ndarray:
    """Several (points, labels, title) panels side by side, e.g. a network beside the exact model."""
    fig, axes = _figure(size, len(panels))
    for ax, (pts, labels, title) in zip(axes, panels):
        classes_ax(ax, pts, labels, names, title)
    fig.tight_layout()
    return _to_rgb(fig)

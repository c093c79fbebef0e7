"""Arrays -> pictures: scatter plots of points and grids of digits (numpy in, PNG/RGB out).
Everything the app and the CLIs draw goes through here; no tensor math."""
from __future__ import annotations

import io
import math

import numpy as np

LIM = 1.35  # axes half-width: points live in [-1, 1], noise at t = T spreads wider


def _figure(size: float = 4.0, ncols: int = 1):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=(size * ncols, size), dpi=100, squeeze=False)
    return fig, axes[0]


def _to_rgb(fig) -> np.ndarray:
    import matplotlib.pyplot as plt
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return rgb


def scatter_ax(ax, pts: np.ndarray, title: str = "", lim: float = LIM, density: bool = True) -> None:
    """Points (n, 2), coloured by local density (a 2D histogram looked up per point)."""
    colors = "#1f77b4"
    if density and len(pts) > 1:
        h, xe, ye = np.histogram2d(pts[:, 0], pts[:, 1], bins=40, range=[[-lim, lim], [-lim, lim]])
        ix = np.clip(np.searchsorted(xe, pts[:, 0]) - 1, 0, 39)
        iy = np.clip(np.searchsorted(ye, pts[:, 1]) - 1, 0, 39)
        colors = h[ix, iy]
    ax.scatter(pts[:, 0], pts[:, 1], s=4 if len(pts) > 500 else 9, c=colors, cmap="viridis", linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def scatter_png(pts: np.ndarray, title: str = "", size: float = 5.0) -> np.ndarray:
    fig, (ax,) = _figure(size)
    scatter_ax(ax, pts, title)
    fig.tight_layout()
    return _to_rgb(fig)


def digit_grid(digits: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Digits (n, 28, 28) in [0, 1] -> one grayscale uint8 image (H, W), dark on light."""
    n = len(digits)
    ncols = ncols or max(1, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    h, w = digits.shape[1:]
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.float32)
    for k, d in enumerate(digits):
        r, c = divmod(k, ncols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = 1 - d
    return (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)


def upscale(img: np.ndarray, k: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor (keeps pixels crisp in a browser)."""
    return img.repeat(k, axis=0).repeat(k, axis=1)


def save_png(img: np.ndarray, path: str) -> None:
    from PIL import Image
    Image.fromarray(img).save(path)


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()

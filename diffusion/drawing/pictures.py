"""Pictures drawn straight into pixels with numpy and Pillow, fast enough to stream: point clouds
(each point coloured by the local density), digit grids, captions and panels side by side."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PANEL = 340  # pixels per 2D panel
VIEW = 1.6  # half-width of the 2D view: data lives in [-1, 1]; early x_t spread wider
HEADER = 22  # caption strip above each panel


@lru_cache(maxsize=1)
def _viridis() -> np.ndarray:
    import matplotlib
    return (matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _font(size: int = 14):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def points_panel(pts: np.ndarray, size: int = PANEL, lim: float = VIEW) -> np.ndarray:
    """Points (n, 2) -> RGB (size, size, 3): 2x2-pixel dots on white, coloured by density."""
    img = np.full((size, size, 3), 255, np.uint8)
    px = np.round((pts[:, 0] + lim) / (2 * lim) * (size - 2)).astype(np.int64)
    py = np.round((lim - pts[:, 1]) / (2 * lim) * (size - 2)).astype(np.int64)
    keep = (px >= 0) & (px < size - 1) & (py >= 0) & (py < size - 1)
    px, py = px[keep], py[keep]
    if len(px):
        cell = (py // 6) * size + px // 6  # density on a coarse grid of 6-pixel cells
        counts = np.bincount(cell, minlength=size * size)[cell]
        level = np.log1p(counts) / np.log1p(counts.max())
        colors = _viridis()[np.clip((0.15 + 0.85 * level) * 255, 0, 255).astype(np.int64)]
        order = np.argsort(level)  # dense points on top
        for dy in (0, 1):
            for dx in (0, 1):
                img[py[order] + dy, px[order] + dx] = colors[order]
    img[[0, -1], :] = img[:, [0, -1]] = 200
    return density_key(img) if size >= 200 else img


def density_key(img: np.ndarray) -> np.ndarray:
    """The legend of the point colours, in the panel's lower right corner: the colour ramp from
    few to many points per cell."""
    h, w = img.shape[:2]
    bar_w, bar_h, x0, y0 = 48, 6, w - 84, h - 11
    ramp = _viridis()[np.linspace(0.15 * 255, 255, bar_w).astype(np.int64)]
    img[y0:y0 + bar_h, x0:x0 + bar_w] = ramp[None]
    out = Image.fromarray(img)
    draw = ImageDraw.Draw(out)
    gray, font, mid = (90, 90, 90), _font(10), y0 + bar_h // 2
    draw.text((x0 - 3, mid), "colour: sparse", fill=gray, font=font, anchor="rm")
    draw.text((x0 + bar_w + 3, mid), "dense", fill=gray, font=font, anchor="lm")
    return np.asarray(out).copy()


def digits_panel(u8: np.ndarray, scale: int = 3) -> np.ndarray:
    """Digits (n, 28, 28) uint8 (0 = -1, 255 = +1) -> RGB grid, dark on light, upscaled."""
    return gray_to_rgb(digit_grid(u8.astype(np.float32) / 255.0), scale)


def caption(img: np.ndarray, text: str) -> np.ndarray:
    out = Image.new("RGB", (img.shape[1], img.shape[0] + HEADER), "white")
    out.paste(Image.fromarray(img), (0, HEADER))
    ImageDraw.Draw(out).text((6, 3), text, fill=(30, 30, 30), font=_font())
    return np.asarray(out)


def side_by_side(panels: list[np.ndarray], gap: int = 8) -> np.ndarray:
    h = max(p.shape[0] for p in panels)
    cols = []
    for k, p in enumerate(panels):
        if p.shape[0] < h:
            p = np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255)
        cols.append(p)
        if k < len(panels) - 1:
            cols.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(cols, axis=1)


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


def gray_to_rgb(gray: np.ndarray, k: int = 1) -> np.ndarray:
    """A grayscale uint8 image (H, W), upscaled by k -> RGB (k H, k W, 3)."""
    return np.repeat(upscale(gray, k)[:, :, None], 3, axis=2)


def save_png(img: np.ndarray, path: str) -> None:
    Image.fromarray(img).save(path)


def stacked(rows: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Pictures one above the other, left-aligned on white."""
    width = max(r.shape[1] for r in rows)
    out = []
    for k, r in enumerate(rows):
        out.append(np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255))
        if k < len(rows) - 1:
            out.append(np.full((gap, width, 3), 255, np.uint8))
    return np.concatenate(out, axis=0)

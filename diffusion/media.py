"""Frames of the reverse process as pictures, fast enough to stream: point clouds are drawn
straight into pixels with numpy (each point coloured by the local density), digits are tiled into
grids. Each frame has two panels, x_t and the x0 prediction. Also GIF and MP4 writers.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .render import digit_grid, gray_to_rgb

PANEL = 340  # pixels per 2D panel
VIEW = 1.6  # half-width of the 2D view: data lives in [-1, 1]; early x_t spread wider
HEADER = 22  # caption strip above each panel
MAX_ANIMATION_FRAMES = 60


@lru_cache(maxsize=1)
def _viridis() -> np.ndarray:
    import matplotlib
    return (matplotlib.colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _font(size: int = 14):
    from PIL import ImageFont
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
    return img


def digits_panel(u8: np.ndarray, scale: int = 3) -> np.ndarray:
    """Digits (n, 28, 28) uint8 (0 = -1, 255 = +1) -> RGB grid, dark on light, upscaled."""
    return gray_to_rgb(digit_grid(u8.astype(np.float32) / 255.0), scale)


def caption(img: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw
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


def panel(world: str, x: np.ndarray, small: bool = False) -> np.ndarray:
    if world == "points":
        return points_panel(x, 240 if small else PANEL)
    return digits_panel(x, 3 if len(x) <= 16 and not small else 2)


def frame_image(world: str, x: np.ndarray, x0: np.ndarray, index: int, total: int, t: int,
                small: bool = False) -> np.ndarray:
    """Two captioned panels: x_t and the model's x0 prediction at that step (`small` for files:
    noise does not compress, so GIF size grows with every pixel)."""
    step = f"step {index}/{total - 1}"
    if t < 0:
        left, right = f"final sample ({step})", "x0 = final sample"
    else:
        left, right = f"x_t, t = {t} ({step})", "predicted x0"
    return side_by_side([caption(panel(world, x, small), left), caption(panel(world, x0, small), right)])


def animation_indices(total: int, max_frames: int = MAX_ANIMATION_FRAMES) -> list[int]:
    """At most max_frames frame indices, evenly spread, always the first and the last."""
    if total <= max_frames:
        return list(range(total))
    return sorted({round(k) for k in np.linspace(0, total - 1, max_frames)})


def _even(img: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs even width and height."""
    return np.pad(img, ((0, img.shape[0] % 2), (0, img.shape[1] % 2), (0, 0)), constant_values=255)


def write_gif(frames: list[np.ndarray], path: str | Path, fps: float = 15, hold: float = 1.5) -> Path:
    from PIL import Image
    images = [Image.fromarray(f) for f in frames]
    durations = [int(1000 / fps)] * len(images)
    durations[-1] = int(hold * 1000)  # rest on the final sample before looping
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=False)
    return Path(path)


def write_mp4(frames: list[np.ndarray], path: str | Path, fps: int = 15, hold: float = 1.5) -> Path:
    import av
    frames = [_even(f) for f in frames]
    frames += [frames[-1]] * int(math.ceil(hold * fps))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return Path(path)


def final_image(world: str, samples: np.ndarray, title: str = "") -> np.ndarray:
    """The final samples as a picture: a density-coloured scatter, or a crisp digit grid."""
    if world == "points":
        from .render import scatter_png
        return scatter_png(samples, title, size=4.5)
    return gray_to_rgb(digit_grid(samples), 4)


def comparison_image(world: str, finals: list[np.ndarray], guidances: list[float], metrics: list[dict]) -> np.ndarray:
    """One captioned panel per guidance scale, side by side (same initial noise in each)."""
    panels = []
    for x, g, m in zip(finals, guidances, metrics):
        if world == "points":
            img, text = points_panel(x, size=220), f"s = {g:g}  d = {m['distance']:.3f}"
        else:
            img, text = digits_panel((x * 255).round().astype(np.uint8), 2), f"s = {g:g}  acc {m['accuracy']:.0%}"
        panels.append(caption(img, text))
    return side_by_side(panels)


def export(result, folder: str | Path) -> dict[str, Path]:
    """Write a result's downloads once: final samples as PNG and .npy, the animation as GIF and MP4."""
    from .render import save_png
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    r = result.request
    stem = f"{r.world}_{r.label}_g{r.guidance:g}_{r.sampler}{r.steps}_seed{r.seed}"
    paths = {"png": folder / f"{stem}.png", "npy": folder / f"{stem}.npy",
             "gif": folder / f"{stem}.gif", "mp4": folder / f"{stem}.mp4"}
    save_png(final_image(r.world, result.samples), paths["png"])
    np.save(paths["npy"], result.samples.astype(np.float32))
    total = len(result.xs)
    frames = [frame_image(r.world, result.xs[i], result.x0s[i], i, total, result.timesteps[i], small=True)
              for i in animation_indices(total)]
    write_gif(frames, paths["gif"])
    write_mp4(frames, paths["mp4"])
    return paths

"""A result as pictures and files: each frame of the reverse process as two captioned panels (x_t
and the x0 prediction, drawn by the world), the comparison strip, and the downloads (PNG, .npy,
GIF, MP4)."""
from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ..drawing.pictures import caption, save_png, side_by_side, stacked
from ..inputs import METHOD_PARAMS
from ..worlds import get_world

MAX_ANIMATION_FRAMES = 60
GIF_MAX_BYTES = 1_400_000  # the budget is 1.5 MB: a visitor's download, a README animation
FILE_KINDS = ("png", "npy", "gif", "mp4")
GIF_COLORS = 32  # gray levels of a digit, or viridis and text: 32 look alike and compress better


def frame_image(world, x: np.ndarray, x0: np.ndarray, index: int, total: int, t: int,
                small: bool = False) -> np.ndarray:
    """Two captioned panels: x_t and the model's x0 prediction at that step (`small` for files:
    noise does not compress, so GIF size grows with every pixel)."""
    step = f"step {index}/{total - 1}"
    if t < 0:
        left, right = f"final sample ({step})", "x0 = final sample"
    else:
        left, right = f"x_t, t = {t} ({step})", "predicted x0"
    world = get_world(world)
    return side_by_side([caption(world.panel(x, small), left), caption(world.panel(x0, small), right)])


def animation_indices(total: int, max_frames: int = MAX_ANIMATION_FRAMES) -> list[int]:
    """At most max_frames frame indices, evenly spread, always the first and the last."""
    if total <= max_frames:
        return list(range(total))
    return sorted({round(k) for k in np.linspace(0, total - 1, max_frames)})


def _even(img: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs even width and height."""
    return np.pad(img, ((0, img.shape[0] % 2), (0, img.shape[1] % 2), (0, 0)), constant_values=255)


def _gif_bytes(images: list[Image.Image], frame_ms: int, hold: float) -> bytes:
    durations = [frame_ms] * len(images)
    durations[-1] = int(hold * 1000)  # rest on the final sample before looping
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=False)
    return out.getvalue()


def gif_image(frame: np.ndarray) -> Image.Image:
    """A frame in GIF_COLORS colours (a palette image: a third of the RGB frame's bytes)."""
    return Image.fromarray(frame).quantize(colors=GIF_COLORS, method=Image.Quantize.MEDIANCUT,
                                           dither=Image.Dither.NONE)


def write_gif(frames: Iterable[np.ndarray | Image.Image], path: str | Path, fps: float = 15, hold: float = 1.5,
              max_bytes: int = GIF_MAX_BYTES) -> Path:
    """An animated GIF of at most max_bytes: frames in GIF_COLORS colours (`gif_image`; frames may
    come already converted), and where that is still too large, every other frame dropped (each
    shown longer, so the animation keeps its length). Noise barely compresses, so the early frames
    of a digit run cost the most."""
    images = [f if isinstance(f, Image.Image) else gif_image(f) for f in frames]
    keep, frame_ms = list(range(len(images))), 1000 / fps
    data = _gif_bytes(images, int(frame_ms), hold)
    while len(data) > max_bytes and len(keep) > 2:
        fewer = animation_indices(len(keep), max(2, len(keep) // 2))
        frame_ms *= (len(keep) - 1) / max(1, len(fewer) - 1)
        keep = [keep[i] for i in fewer]
        data = _gif_bytes([images[i] for i in keep], int(frame_ms), hold)
    Path(path).write_bytes(data)
    return Path(path)


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: int = 15, hold: float = 1.5) -> Path:
    """An H.264 MP4, each frame encoded as it arrives (only the last one is kept, to hold it)."""
    with av.open(str(path), "w") as out:
        stream, last = None, None

        def encode(f):
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for last in map(_even, frames):
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.height, stream.width = last.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "23", "preset": "veryfast"}
            encode(last)
        for _ in range(int(math.ceil(hold * fps))):  # rest on the final sample
            encode(last)
        for packet in stream.encode():
            out.mux(packet)
    return Path(path)


def comparison_image(world, finals: list[np.ndarray], guidances: list[float], metrics: list[dict]) -> np.ndarray:
    """One captioned panel per guidance scale, side by side (same initial noise in each)."""
    world = get_world(world)
    return side_by_side([world.comparison_panel(x, g, m) for x, g, m in zip(finals, guidances, metrics)])


def method_caption(method: str, params) -> str:
    """"rescale: phi 0.7" from a request's method and its (core name, value) parameters."""
    shown = [f"{METHOD_PARAMS[method][k].name} {v:g}" if isinstance(v, float) else f"{METHOD_PARAMS[method][k].name} {v}"
             for k, v in params]
    return method + (": " + ", ".join(shown) if shown else "")


def comparison_grid(c) -> np.ndarray:
    """A `compare.Comparison` as one row per method (captioned with its parameters) and one
    column per guidance scale; cells not finished yet are blank, so the picture keeps its size
    while the comparison streams."""
    panels = [c.world.comparison_panel(cell.result.samples, cell.guidance, cell.metrics) for cell in c.cells]
    blank = np.full_like(panels[0], 255)
    k, rows = len(c.guidances), []
    for i, m in enumerate(c.methods):
        row = [panels[j] if j < len(panels) else blank for j in range(i * k, (i + 1) * k)]
        rows.append(caption(side_by_side(row), method_caption(m, c.requests[i * k].method_params)))
    return stacked(rows)


def run_id(request) -> str:
    """A short fingerprint of every input of a run (model, method parameters, eta and all)."""
    return hashlib.sha1(repr(request).encode()).hexdigest()[:16]


def download_stem(request) -> str:
    """The downloads' file name: world, label, s, sampler and steps, seed, n and method, readable,
    then the run's fingerprint, so that two different runs never share a name (the same run, the
    same samples: the same name)."""
    r = request
    return (f"{r.world}_{r.label}_s{r.guidance:g}_{r.sampler}-{r.steps}steps_seed{r.seed}_n{r.n}_{r.method}"
            f"_{run_id(r)[:8]}")


def export(result, folder: str | Path, kinds=FILE_KINDS) -> dict[str, Path]:
    """Write these of a result's downloads: final samples as PNG and .npy, the animation as GIF and
    MP4. Each animation frame is drawn once, goes into the MP4 at once and stays only as its GIF
    palette image: a 64-digit run's export holds ~30 MB instead of all its RGB frames twice (~200 MB
    over the server's steady size, the peak of every round of `make soak`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    r = result.request
    stem = download_stem(r)
    paths = {k: folder / f"{stem}.{k}" for k in kinds}
    if "png" in kinds:
        save_png(get_world(r.world).final_image(result.samples), paths["png"])
    if "npy" in kinds:
        np.save(paths["npy"], result.samples.astype(np.float32))
    if "gif" in kinds or "mp4" in kinds:
        total, palette = len(result.xs), []

        def frames():
            for i in animation_indices(total):
                frame = frame_image(r.world, result.xs[i], result.x0s[i], i, total, result.timesteps[i], small=True)
                if "gif" in kinds:
                    palette.append(gif_image(frame))
                yield frame
        if "mp4" in kinds:
            write_mp4(frames(), paths["mp4"])
        else:
            for _ in frames():  # the GIF alone: only its palette images are kept
                pass
        if "gif" in kinds:
            write_gif(palette, paths["gif"])
    return paths

"""Data a visitor draws or uploads: labelled 2D points (x, y, class name) in the points world's
square [-1, 1]^2, up to MAX_CLASSES classes and MAX_POINTS points.

    >>> d = from_rows([[-0.5, 0.1, "left"], [0.5, 0.1, "right"]])    # the named API's form
    >>> d = from_image(rgba, ["left", "right", "third"])            # a sketchpad's picture (H, W, 3|4)
    >>> d = from_file("points.csv", names)                          # .csv or .npy rows of x, y, class
    >>> d.names, d.points.shape, d.labels.shape                     # ('left', 'right'), (N, 2), (N,)
    >>> exact_denoiser(d, alphas_cumprod)                           # its perfect model (models.exact)

A picture's strokes become points by colour: a pixel within COLOUR_TOLERANCE of brush k's colour
belongs to class k; at most MAX_POINTS // classes pixel centres per class are kept (drawn at
random, seed 0), mapped to x = 2 (col + 1/2) / W - 1, y = 1 - 2 (row + 1/2) / H. Every bad value
is a ValueError in the one format (`core.checks.invalid`): field, value cut to 80 characters,
what is allowed.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.checks import invalid
from ..core.metrics import curve_fit, nearest_distance, spread
from ..drawing.classes import BRUSHES  # the canvas's colours, one per class
from ..models.exact import ExactDenoiser
from .labels import RANDOM
from .points import POINTS

MAX_POINTS = 2000  # points per data set: the exact denoiser's cost grows with them
MAX_CLASSES = 3
MAX_NAME = 24  # characters of a class name
MAX_FILE = 1 << 20  # bytes of an uploaded .csv / .npy
DEFAULT_NAMES = ("red", "blue", "green")
COLOUR_TOLERANCE = 60.0  # RGB distance to a brush colour; anti-aliased stroke edges fall outside
ROW = "[x, y, class name] with x and y numbers in -1..1"
WORLD = POINTS  # drawn data are this world's
FIELD = "points"  # the named API's argument (`/sample_custom`) and its refusals' field


def rgb(colour: str) -> tuple[int, int, int]:
    """'#d62728' -> (214, 39, 40)."""
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


@dataclass(frozen=True, eq=False)
class Drawing:
    """points (N, 2) float32 in [-1, 1], labels (N,) int64 indices into names (every class has points)."""
    points: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]

    @property
    def key(self) -> str:
        """A short hash of the content: the same points and names give the same key."""
        h = hashlib.sha1(self.points.tobytes() + self.labels.tobytes() + "\0".join(self.names).encode())
        return h.hexdigest()[:12]

    def of(self, label: str) -> np.ndarray:
        """The points of one class ((M, 2)); every point for "random"."""
        if label == RANDOM:
            return self.points
        return self.points[self.labels == self.names.index(label)]

    def counts(self) -> dict[str, int]:
        return {k: int((self.labels == i).sum()) for i, k in enumerate(self.names)}

    def rows(self) -> list[list]:
        """The named API's form: [[x, y, class name], ...]."""
        return [[float(x), float(y), self.names[k]] for (x, y), k in zip(self.points.tolist(), self.labels.tolist())]


def check_names(names) -> list[str]:
    """Class names as typed: text, 1..MAX_NAME characters once stripped, printable, not "random"."""
    if not isinstance(names, (list, tuple)) or not 1 <= len(names) <= MAX_CLASSES:
        raise invalid("class names", names, f"1..{MAX_CLASSES} texts")
    out = []
    for i, name in enumerate(names):
        key = name.strip() if isinstance(name, str) else None
        if not key or len(key) > MAX_NAME or not key.isprintable() or key.lower() == RANDOM or key in out:
            raise invalid(f"class name {i + 1}", name, f"text of 1..{MAX_NAME} printable characters, not "
                                                       f"'{RANDOM}', different from the other class names")
        out.append(key)
    return out


def make(points: np.ndarray, labels: np.ndarray, names, field: str = FIELD) -> Drawing:
    """A checked Drawing; classes without points are dropped (the rest keep their order)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if len(points) == 0:
        raise invalid(field, [], f"at least one point: {ROW}" if field == FIELD else
                      "strokes in the brush colours (the canvas is empty)")
    if len(points) > MAX_POINTS:
        raise invalid(field, f"{len(points)} points", f"at most {MAX_POINTS} points")
    if not np.isfinite(points).all() or np.abs(points).max() > 1:
        bad = points[~(np.isfinite(points).all(1) & (np.abs(points) <= 1).all(1))][0]
        raise invalid(field, bad.tolist(), "points inside the canvas: x and y in -1..1")
    labels = np.asarray(labels, np.int64)
    present = [k for k in range(len(names)) if (labels == k).any()]
    remap = np.full(len(names), -1, np.int64)
    remap[present] = np.arange(len(present))
    return Drawing(points.astype(np.float32), remap[labels], tuple(names[k] for k in present))


def from_rows(rows) -> Drawing:
    """[[x, y, class name], ...] (JSON-like): classes in order of first appearance."""
    if not isinstance(rows, (list, tuple)):
        raise invalid(FIELD, rows, f"a list of {ROW}")
    if len(rows) > MAX_POINTS:
        raise invalid(FIELD, f"{len(rows)} points", f"at most {MAX_POINTS} points")
    names, pts, labels = [], [], []
    for i, row in enumerate(rows):
        ok = isinstance(row, (list, tuple)) and len(row) == 3 and isinstance(row[2], str) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= 1
            for v in row[:2])
        if not ok:
            raise invalid(f"{FIELD}[{i}]", row, ROW)
        name = row[2].strip()
        if name not in names:
            names.append(name)
            check_names(names)
        pts.append(row[:2])
        labels.append(names.index(name))
    return make(np.asarray(pts, np.float64), np.asarray(labels), names)


def from_image(image: np.ndarray, names, seed: int = 0) -> Drawing:
    """Strokes of a sketchpad picture (H, W, 3 or 4) uint8; brush k's strokes are class names[k]."""
    names = check_names(list(names))
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or min(img.shape[:2]) < 8:
        raise invalid("drawing", f"a picture of shape {img.shape}", "an RGB or RGBA picture of at least 8 x 8")
    colour = img[..., :3].astype(np.float64)
    opaque = img[..., 3] > 127 if img.shape[2] == 4 else np.ones(img.shape[:2], bool)
    dist = np.stack([np.linalg.norm(colour - rgb(c), axis=-1) for c in BRUSHES[:len(names)]], -1)
    cls = np.where(opaque & (dist.min(-1) < COLOUR_TOLERANCE), dist.argmin(-1), -1)
    h, w = cls.shape
    rng = np.random.default_rng(seed)
    present = [k for k in range(len(names)) if (cls == k).any()]
    per_class = MAX_POINTS // max(1, len(present))
    pts, labels = [], []
    for k in present:
        rows, cols = np.nonzero(cls == k)
        keep = rng.choice(len(rows), per_class, replace=False) if len(rows) > per_class else np.arange(len(rows))
        pts.append(np.stack([2 * (cols[keep] + 0.5) / w - 1, 1 - 2 * (rows[keep] + 0.5) / h], 1))
        labels.append(np.full(len(keep), k))
    if not pts:
        return make(np.zeros((0, 2)), np.zeros(0), names, field="drawing")
    return make(np.concatenate(pts), np.concatenate(labels), names, field="drawing")


def from_file(path, names) -> Drawing:
    """A .csv (x, y, class name or class number 1..3; a header line is allowed) or a .npy (N, 3)
    of numbers (class numbers 1..3 name the canvas's classes: names[k - 1]). Nothing is unpickled."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".npy"):
        raise invalid("file", path.name, ".csv or .npy of rows x, y, class")
    if path.stat().st_size > MAX_FILE:
        raise invalid("file", f"{path.name} of {path.stat().st_size} bytes", f"at most {MAX_FILE} bytes")
    names = check_names(list(names))
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception:
            raise invalid("file", path.name, "a .npy array of shape (N, 3): x, y, class number") from None
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.dtype.kind not in "iuf":
            raise invalid("file", f"{path.name}: an array of shape {arr.shape}, {arr.dtype}",
                          "a .npy array of shape (N, 3): x, y, class number")
        rows = arr.tolist()
    else:
        lines = [ln.split(",") for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        rows = [[_number(v) for v in ln[:2]] + [",".join(ln[2:]).strip()] for ln in lines]
        if rows and any(v is None for v in rows[0][:2]):
            rows = rows[1:]  # a header
    out = []
    for i, row in enumerate(rows):
        if len(row) != 3:
            raise invalid(f"{FIELD}[{i}]", row, ROW)
        k = row[2]
        num = _number(k) if isinstance(k, str) else k
        if num is not None and float(num).is_integer() and 1 <= num <= len(names):
            k = names[int(num) - 1]
        elif not isinstance(k, str):
            raise invalid(f"{FIELD}[{i}]", row, f"a class number 1..{len(names)}")
        out.append([row[0], row[1], k])
    return from_rows(out)


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def exact_denoiser(d: Drawing, alphas_cumprod) -> ExactDenoiser:
    """The exact denoiser of the drawn points (`models.exact`): a perfect model of them."""
    return ExactDenoiser(torch.from_numpy(d.points), torch.from_numpy(d.labels), alphas_cumprod,
                         null_label=len(d.names))


def measure(d: Drawing, label: str, samples: np.ndarray) -> dict:
    """The points world's measures (`PointsWorld.measure`) against the drawn points of `label`."""
    return {**curve_fit(samples, d.of(label)), "spread": spread(samples)}


def distance(samples: np.ndarray, points: np.ndarray) -> float:
    """Mean distance from each sample to the nearest of `points`."""
    return float(nearest_distance(samples, points).mean())


class DrawnTraining:
    """Training batches from a drawing (`TrainingData`): a class uniformly, then one of its points."""

    def __init__(self, d: Drawing, seed: int = 0):
        self.d, self.seed = d, seed
        self.parts = [torch.from_numpy(d.points[d.labels == k]) for k in range(len(d.names))]

    def batch(self, step: int, gen: torch.Generator, batch_size: int):
        y = torch.randint(0, len(self.parts), (batch_size,), generator=gen)
        x = torch.empty(batch_size, 2)
        for k, part in enumerate(self.parts):
            idx = (y == k).nonzero().squeeze(1)
            x[idx] = part[torch.randint(0, len(part), (len(idx),), generator=gen)]
        return x, y

    def validation_batch(self):
        return self.batch(0, torch.Generator().manual_seed(10_000 + self.seed), 256)

    def reference(self, gen: torch.Generator, n: int):
        return self.batch(0, gen, n)


def paint(strokes: dict[int, list[list[tuple[float, float]]]], size: int = 400, radius: int = 3) -> np.ndarray:
    """A canvas (size, size, 4) uint8 with polylines in [-1, 1] coordinates drawn in brush k's colour
    ({k: [polyline, ...]}), transparent elsewhere: what the sketchpad sends, for tests and the bench."""
    from PIL import Image, ImageDraw
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for k, lines in strokes.items():
        for line in lines:
            xy = [((x + 1) / 2 * size, (1 - y) / 2 * size) for x, y in line]
            draw.line(xy, fill=(*rgb(BRUSHES[k]), 255), width=2 * radius, joint="curve")
    return np.asarray(img)


def stroke_distance(samples: np.ndarray, strokes: list[list[tuple[float, float]]]) -> float:
    """Mean distance from each sample to the nearest polyline of `strokes` (exact, segment by segment)."""
    best = np.full(len(samples), np.inf)
    for line in strokes:
        pts = np.asarray(line, np.float64)
        for a, b in zip(pts[:-1], pts[1:]):
            ab = b - a
            u = np.clip(((samples - a) @ ab) / max(ab @ ab, 1e-12), 0, 1)
            best = np.minimum(best, np.linalg.norm(samples - (a + u[:, None] * ab), axis=1))
    return float(best.mean())

"""The model card's pictures: what the network draws at guidance 0, 1, 2, 3 from the same seeds.

  mnist   grid_random.png    100 unconditional digits ("random"), 10 x 10;
          grid_guidance.png  one 10 x 10 panel per guidance scale, row r asks for digit r; panel
                             after panel, a position holds the same start noise and noise sequence,
                             so the panels differ by guidance alone (guidance 0 ignores the label).
  points  grid_guidance.png  one row per pattern and "random", one column per guidance scale.

`python -m diffusion.evaluate mnist|points --grids` writes them into the checkpoint folder and
links them from its card.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..drawing.pictures import caption, save_png, side_by_side, stacked
from ..worlds.labels import RANDOM

GUIDANCES = (0.0, 1.0, 2.0, 3.0)


def _panel(sampler, labels, guidance, steps, method, seed, n) -> np.ndarray:
    """The world's small picture of n samples for one label (or one label per sample)."""
    traj = sampler.sample(labels, guidance, steps, method, 0.0, n, seed, keep_trajectory=False)
    return sampler.world.panel(sampler.world.display(sampler.to_data(traj.samples)), small=True)


def mnist_grids(sampler, folder: Path, steps: int, method: str, seed: int, n: int) -> list[tuple[str, str]]:
    labels = [str(d) for d in np.repeat(np.arange(10), 10)]
    random = _panel(sampler, RANDOM, 1.0, steps, method, seed, 100)
    save_png(caption(random, "100 x random"), str(folder / "grid_random.png"))
    panels = [caption(_panel(sampler, labels, g, steps, method, seed, 100), f"guidance {g:g}") for g in GUIDANCES]
    save_png(side_by_side(panels), str(folder / "grid_guidance.png"))
    return [("grid_random.png", "100 unconditional digits"),
            ("grid_guidance.png", "guidance 0, 1, 2, 3 from the same seeds; row r asks for digit r")]


def points_grids(sampler, folder: Path, steps: int, method: str, seed: int, n: int) -> list[tuple[str, str]]:
    rows = []
    for label in [*sampler.checkpoint.config.labels, RANDOM]:
        cells = []
        for g in GUIDANCES:
            cells.append(caption(_panel(sampler, label, g, steps, method, seed, n), f"{label}, guidance {g:g}"))
        rows.append(side_by_side(cells))
    save_png(stacked(rows), str(folder / "grid_guidance.png"))
    return [("grid_guidance.png", f"{n} samples per picture; rows: label, columns: guidance 0, 1, 2, 3 "
                                  "(the same seed everywhere)")]


def card_markdown(pictures: list[tuple[str, str]], steps: int, method: str, seed: int) -> str:
    """The card's Markdown for the pictures (file name, what it shows)."""
    lines = ["## Samples", "", f"{steps} {method} steps, seed {seed}.", ""]
    for name, text in pictures:
        lines += [f"![{text}]({name})", "", text, ""]
    return "\n".join(lines)

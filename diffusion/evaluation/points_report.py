"""The 2D world's evaluation table: per label, distance (mean sample -> curve) and coverage (mean
curve -> sample), spread; for "random", the share of samples on each pattern."""
from __future__ import annotations

import time

from ..core.metrics import curve_fit, pattern_shares, spread
from ..guided_sampler import GuidedSampler
from ..worlds.labels import RANDOM
from ..worlds.points import curve_points


def evaluate_points(sampler: GuidedSampler, guidance: float, steps: int, method: str, eta: float,
                    n: int, seed: int) -> list[dict]:
    names = sampler.checkpoint.config.labels
    curves = {k: curve_points(k) for k in names}
    rows = []
    for label in [*names, RANDOM]:
        start = time.perf_counter()
        x = sampler.to_data(sampler.sample(label, guidance, steps, method, eta, n, seed,
                                           keep_trajectory=False).samples)
        row = {"label": label, "guidance": guidance, "steps": steps, "sampler": method, "n": n,
               "seed": seed, "spread": spread(x)}
        if label == RANDOM:
            row.update({f"share_{k}": v for k, v in pattern_shares(x, curves).items()})
        else:
            row.update(curve_fit(x, curves[label]))
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def points_markdown(rows: list[dict]) -> str:
    head = ("| label | guidance | steps | distance to curve | coverage | spread | on each pattern |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        if r["label"] == RANDOM:
            shares = ", ".join(f"{k[6:]} {v:.0%}" for k, v in r.items() if k.startswith("share_"))
            lines.append(f"| random | {r['guidance']:g} | {r['steps']} {r['sampler']} | | | {r['spread']:.3f} | {shares} |")
        else:
            lines.append(f"| {r['label']} | {r['guidance']:g} | {r['steps']} {r['sampler']} | "
                         f"{r['distance']:.4f} | {r['coverage']:.4f} | {r['spread']:.3f} | |")
    return "\n".join(lines)


def report(sampler: GuidedSampler, args) -> tuple[list[dict], str, str]:
    """(rows, markdown table, note) for the CLI's arguments."""
    rows = []
    for g in args.guidance or [1.0]:
        rows += evaluate_points(sampler, g, args.steps, args.sampler, args.eta, args.n, args.seed)
    note = (f"{args.n} samples per label, seed {args.seed}. distance: mean distance from a "
            "sample to the true curve; coverage: mean distance from a curve point to the nearest "
            "sample ([-1, 1] units; a perfect sampler with 0.01 jitter scores about 0.008); "
            "random: share of samples within 0.05 of each pattern.")
    return rows, points_markdown(rows), note

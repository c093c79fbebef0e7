"""Measure what guidance does, on a shipped (or any) checkpoint.

  python -m diffusion.evaluate points [--guidance 1] [--steps 100] [--n 1000] [--seed 0]
      per label: distance (mean sample -> curve) and coverage (mean curve -> sample), spread;
      for "random": the share of samples on each pattern.
  python -m diffusion.evaluate mnist --guidance 0 1 2 3 5 --n-per-class 100 --steps 100
      per guidance: LeNet accuracy, mean precision/recall/F1, FLD, diversity, time.
  python -m diffusion.evaluate mnist --exact 2000 --guidance 1 2
      the same for the exact denoiser of 2000 training digits per class (same schedule, same
      sampler): what guidance does with a perfect model of those digits.
  python -m diffusion.evaluate lenet
      the judge itself: its accuracy on the 10k real test digits, per digit.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .api import WORLDS, GuidedSampler
from .cli import Parser, run
from .labels import RANDOM
from .metrics import curve_fit, pattern_shares, spread
from .points import curve_points


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


def exact_sampler(sampler: GuidedSampler, args) -> GuidedSampler:
    """The checkpoint's schedule and labels with the exact denoiser in place of its network."""
    if args.world != "mnist":
        raise ValueError(f"--exact is for the mnist world, not {args.world!r}")
    if args.update_card:
        raise ValueError("--exact evaluates no checkpoint, so there is no card to update; use --markdown")
    from .checkpoint import Checkpoint
    from .exact import exact_mnist
    model = exact_mnist(args.exact, sampler.checkpoint.diffusion.alphas_cumprod_f64, seed=args.seed + 1)
    return GuidedSampler(Checkpoint(model, sampler.checkpoint.config))


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("world", help=f"one of: {', '.join(WORLDS)}, lenet")
    ap.add_argument("--guidance", type=float, nargs="+", default=None)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--sampler", default="ddpm")
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--n", type=int, default=1000, help="points: samples per label")
    ap.add_argument("--n-per-class", type=int, default=100, help="mnist: samples per digit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo id")
    ap.add_argument("--lenet", default=None, help="mnist: the classifier checkpoint folder")
    ap.add_argument("--exact", type=int, default=None, metavar="N",
                    help="mnist: evaluate the exact denoiser of N training digits per class instead")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--histogram", default=None, help="mnist: save per-digit label histograms (PNG)")
    ap.add_argument("--update-card", action="store_true", help="put the table in the model card")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.world == "lenet":
        from .evaluate_mnist import evaluate_lenet
        table, note, folder = evaluate_lenet(args)
        print(table)
        print(note)
        if args.update_card:
            from .card import update_card
            update_card(folder, f"## Evaluation\n\n`python -m diffusion.evaluate lenet`\n\n{table}\n\n{note}")
        return 0
    if args.world not in WORLDS:
        raise ValueError(f"unknown world {args.world!r}; allowed: {', '.join(WORLDS)}, lenet")
    sampler = GuidedSampler.load(args.world, args.checkpoint)
    if args.exact is not None:
        sampler = exact_sampler(sampler, args)
    method = args.sampler.lower()
    if args.world == "points":
        rows = []
        for g in args.guidance or [1.0]:
            rows += evaluate_points(sampler, g, args.steps, method, args.eta, args.n, args.seed)
        table = points_markdown(rows)
        note = (f"{args.n} samples per label, seed {args.seed}. distance: mean distance from a "
                "sample to the true curve; coverage: mean distance from a curve point to the nearest "
                "sample ([-1, 1] units; a perfect sampler with 0.01 jitter scores about 0.008); "
                "random: share of samples within 0.05 of each pattern.")
    else:
        from .evaluate_mnist import evaluate_mnist
        rows, table, note = evaluate_mnist(sampler, args)
    print(table)
    print(note)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n\n" + note + "\n")
    if args.update_card:
        from .card import update_card
        cmd = "python -m diffusion.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
        update_card(sampler.checkpoint.path, f"## Evaluation\n\n`{cmd}`\n\n{table}\n\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

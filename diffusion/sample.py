"""Sample with classifier-free guidance from the command line.

  python -m diffusion.sample points --label spiral --guidance 1 --steps 100 --sampler ddpm \
      --n 1000 --seed 0 --out spiral.npy        # float32 (n, 2) in [-1, 1]
  python -m diffusion.sample mnist --label 3 --guidance 2 --steps 100 --n 100 --out threes.png
      # .npy: float32 (n, 28, 28) in [0, 1]; .png: a scatter plot or a digit grid
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .api import MAX_N, WORLDS, GuidedSampler
from .cli import Parser, run
from .sampling import MAX_GUIDANCE


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.sample", description="Sample with classifier-free guidance.")
    ap.add_argument("world", help=f"one of: {', '.join(WORLDS)}")
    ap.add_argument("--label", default="random", help="class name or digit, or 'random' (unconditional)")
    ap.add_argument("--guidance", type=float, default=1.0, help=f"guidance scale s in 0..{MAX_GUIDANCE:g}")
    ap.add_argument("--steps", type=int, default=100, help="sampling steps, 1..T")
    ap.add_argument("--sampler", default="ddpm", help="ddpm or ddim")
    ap.add_argument("--eta", type=float, default=0.0, help="DDIM noise, 0 (deterministic) .. 1")
    ap.add_argument("--n", type=int, default=None,
                    help=f"number of samples (points 1..{MAX_N['points']}, mnist 1..{MAX_N['mnist']})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo id")
    ap.add_argument("--out", required=True, help="output file: .npy (the data) or .png (a picture)")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in (".npy", ".png"):
        raise ValueError(f"--out {args.out!r} must end in .npy or .png")
    if args.world not in WORLDS:
        raise ValueError(f"unknown world {args.world!r}; allowed: {', '.join(WORLDS)}")
    n = args.n if args.n is not None else (1000 if args.world == "points" else 100)
    sampler = GuidedSampler.load(args.world, args.checkpoint)
    traj = sampler.sample(args.label, args.guidance, args.steps, args.sampler.lower(), args.eta, n,
                          args.seed, keep_trajectory=False)
    data = sampler.to_data(traj.samples)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, data)
    else:
        from .render import digit_grid, save_png, scatter_png, upscale
        title = f"{args.label}, guidance {args.guidance:g}, {args.steps} {args.sampler} steps"
        img = scatter_png(data, title) if args.world == "points" else upscale(digit_grid(data), 2)
        save_png(img, str(out))
    print(f"wrote {out} ({data.shape[0]} samples, {args.world}, label {args.label})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

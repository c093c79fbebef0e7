"""Train a model: `python -m diffusion.train {points,mnist,lenet} [--steps N] [--out DIR] ...`

Runs resume from the train state in --out (pass --fresh to start over). Presets are sized for a
2-core CPU: points in a few minutes, lenet in a few minutes, mnist in about 1.5 hours.
"""
from __future__ import annotations

import argparse
import sys

from .checkpoint import default_checkpoint
from .labels import DIGITS
from .points import POINT_LABELS
from .trainer import TrainConfig, Trainer

PRESETS = {
    "points": dict(steps=12_000, batch_size=512, lr=2e-3, warmup=200, ema_decay=0.999,
                   schedule="linear", timesteps=1000, labels=list(POINT_LABELS),
                   model=dict(width=64, depth=3, fourier=6), eval_every=500, save_every=2000),
    "mnist": dict(steps=5_500, batch_size=128, lr=2e-3, warmup=300, ema_decay=0.9995,
                  schedule="cosine", timesteps=1000, labels=list(DIGITS), p_uncond=0.3,
                  min_snr_gamma=5.0, model=dict(channels=[32, 64, 160], emb_dim=128, dropout=0.0),
                  eval_every=250, save_every=250),
    "lenet": dict(steps=2_500, batch_size=128, lr=2e-3, warmup=100, ema_decay=0.995, weight_decay=1e-4,
                  model=dict(channels=[32, 64], hidden=256, feature_dim=128, dropout=0.3),
                  eval_every=250, save_every=500),
}


def make_task(config: TrainConfig):
    from .tasks import LenetTask, MnistTask, PointsTask
    return {"points": PointsTask, "mnist": MnistTask, "lenet": LenetTask}[config.kind](config)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m diffusion.train", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=sorted(PRESETS))
    ap.add_argument("--out", help="checkpoint folder (default: checkpoints/KIND)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--p-uncond", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--labels", nargs="+", help=f"points only: a subset of {', '.join(POINT_LABELS)}")
    ap.add_argument("--width", type=int, help="points only: the MLP's width (preset 64)")
    ap.add_argument("--depth", type=int, help="points only: the number of residual blocks (preset 3)")
    ap.add_argument("--fresh", action="store_true", help="ignore a train state in --out")
    args = ap.parse_args(argv)

    preset = dict(PRESETS[args.kind])
    for key in ("steps", "batch_size", "lr", "p_uncond", "seed", "threads", "labels"):
        if getattr(args, key) is not None:
            preset[key] = getattr(args, key)
    for key in ("width", "depth"):  # model size: smaller and faster points models
        if getattr(args, key) is not None:
            if args.kind != "points":
                print(f"error: --{key}={getattr(args, key)} is not allowed for {args.kind}: only points "
                      f"models take a width or depth", file=sys.stderr)
                return 2
            preset["model"] = {**preset["model"], key: getattr(args, key)}
    command = "python -m diffusion.train " + " ".join(argv if argv is not None else sys.argv[1:])
    config = TrainConfig(kind=args.kind, out=args.out or str(default_checkpoint(args.kind)),
                         command=command, **preset)
    try:
        if not 0.0 <= config.p_uncond <= 1.0:
            raise ValueError(f"--p-uncond {config.p_uncond} is out of range: allowed 0..1")
        if config.steps < 1:
            raise ValueError(f"--steps {config.steps} is out of range: allowed >= 1")
        trainer = Trainer(make_task(config), config)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.fresh and trainer.resume(config.out):
        print(f"resuming {config.out} at step {trainer.step} of {config.steps}", file=sys.stderr)
    if trainer.step >= config.steps:
        print(f"{config.out} is already trained to {trainer.step} steps (use --steps or --fresh)",
              file=sys.stderr)
        return 0
    history = trainer.run()
    print(f"saved {config.out}: step {trainer.step}, val loss {history['val_loss'][-1][1]:.4f}, "
          f"{history['seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

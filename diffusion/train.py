"""Train a model: `python -m diffusion.train KIND [--steps N] [--out DIR] ...`

KIND: a world's denoiser (points, mnist), the LeNet judge (lenet), a world's weak denoiser for
autoguidance (points-weak, mnist-weak) or its noise-aware classifier for classifier guidance
(points-classifier, mnist-classifier); `--help` lists them.

Runs resume from the train state in --out (pass --fresh to start over) and save at least every 15
minutes, so a long run can be stopped and started again. Run long ones in the background:
  nohup python -m diffusion.train mnist --out runs/mnist > runs/mnist.log 2>&1 &
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from .inputs import Param, Parser, SEED, run
from .training.grow import init_from
from .training.presets import default_out, kinds, preset
from .training.tasks import make_task
from .training.trainer import TrainConfig, Trainer

TRAIN_STEPS = Param("steps", int, 1, 10_000_000, help="optimizer steps")
BATCH = Param("batch-size", int, 1, 65_536, help="batch size")
LR = Param("lr", float, 1e-6, 1.0, help="peak learning rate")
P_UNCOND = Param("p-uncond", float, 0.0, 1.0, help="label dropout probability")
THREADS = Param("threads", int, 1, 256, help="torch threads")
STF = Param("stf-reference", int, 0, 100_000,
            help="Stable Target Field: average each target over this many further training examples (0: plain targets)")
T_BAND = Param("t-band", float, 0.0, 1000.0, help="one number of LO HI WEIGHT")
WIDTH = Param("width", int, 8, 1024, help="MLP width (vector worlds)")
DEPTH = Param("depth", int, 1, 12, help="residual blocks (vector worlds)")


def check_out(out: str, trainer: Trainer) -> None:
    """Training saves into --out as it goes: a checkpoint of another architecture there (the shipped MNIST
    model is two U-Nets joined by `python -m diffusion.join`) is not this run's to overwrite."""
    path, config = Path(out) / "diffusion.json", trainer.task.diffusion_config()
    held = json.loads(path.read_text()).get("architecture") if path.is_file() else None
    if config is not None and held is not None and held != config.architecture:
        raise ValueError(f"--out={out} holds a {held} checkpoint, which training a {config.architecture} would "
                         f"overwrite; allowed: an --out without one (e.g. runs/{Path(out).name}; "
                         f"`python -m diffusion.join` makes a {held} from two runs)")


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m diffusion.train", description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=kinds())
    ap.add_argument("--out", help="checkpoint folder (default: checkpoints/KIND)")
    for p in (TRAIN_STEPS, BATCH, LR, P_UNCOND, SEED, THREADS, STF, WIDTH, DEPTH):
        ap.add_argument(f"--{p.name}", help=f"{p.help} ({p.allowed()}; default: the preset's)")
    ap.add_argument("--t-band", nargs=3, metavar=("LO", "HI", "WEIGHT"),
                    help="draw training timesteps in [LO, HI) WEIGHT times as often as the rest (0 <= LO < HI <= T, "
                         "WEIGHT in 0..1000; default: uniform)")
    ap.add_argument("--model", help='model config fields as JSON over the preset\'s, e.g. \'{"channels": [8, 16, 32]}\'')
    ap.add_argument("--labels", nargs="+", help="train on these classes only (default: all)")
    ap.add_argument("--fresh", action="store_true", help="ignore a train state in --out")
    ap.add_argument("--init-from", metavar="DIR",
                    help="start from this smaller run's state (weights, moments, step): grow it, e.g. with "
                         "--model '{\"extra_blocks\": [0, 1, 1]}' (mnist); a train state in --out still wins")
    args = ap.parse_args(argv)

    config = preset(args.kind)
    for p, key in ((TRAIN_STEPS, "steps"), (BATCH, "batch_size"), (LR, "lr"), (P_UNCOND, "p_uncond"),
                   (SEED, "seed"), (THREADS, "threads"), (STF, "stf_reference")):
        if getattr(args, key) is not None:
            config[key] = p.parse(getattr(args, key))
    for p in (WIDTH, DEPTH):  # model size: only models that take a width and depth
        value = getattr(args, p.name)
        if value is not None:
            if p.name not in config.get("model", {}):
                raise ValueError(f"--{p.name}={value} is not allowed for {args.kind}: its model has no {p.name}")
            config["model"] = {**config["model"], p.name: p.parse(value)}
    if args.model is not None:
        try:
            extra = json.loads(args.model)
        except json.JSONDecodeError as e:
            raise ValueError(f"--model={args.model!r} is not allowed: not JSON ({e})") from None
        unknown = sorted(set(extra) - set(config.get("model", {}))) if isinstance(extra, dict) else None
        if unknown is None or unknown:
            raise ValueError(f"--model={args.model!r} is not allowed; allowed: a JSON object with keys of "
                             f"{sorted(config.get('model', {}))}")
        config["model"] = {**config.get("model", {}), **extra}
    if args.t_band is not None:
        band = [T_BAND.parse(v) for v in args.t_band]  # the band's shape is checked by schedules.band_density
        config["t_band"] = [int(v) if v.is_integer() else v for v in band]
    if args.labels is not None:
        config["labels"] = list(args.labels)
    command = "python -m diffusion.train " + shlex.join(argv if argv is not None else sys.argv[1:])
    config = TrainConfig(kind=args.kind, out=args.out or str(default_out(args.kind)), command=command, **config)
    trainer = Trainer(make_task(config), config)
    if not args.fresh and trainer.resume(config.out):
        print(f"resuming {config.out} at step {trainer.step} of {config.steps}", file=sys.stderr)
    else:
        check_out(config.out, trainer)
        if args.init_from is not None:
            init_from(trainer, args.init_from)
            print(f"growing {args.init_from} (step {trainer.step}) into {config.out}", file=sys.stderr)
    if trainer.step >= config.steps:
        print(f"{config.out} is already trained to {trainer.step} steps (use --steps or --fresh)",
              file=sys.stderr)
        return 0
    history = trainer.run()
    print(f"saved {config.out}: step {trainer.step}, val loss {history['val_loss'][-1][1]:.4f}, "
          f"{history['seconds'] / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

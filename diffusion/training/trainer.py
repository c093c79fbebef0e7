"""One training loop for every model here: AdamW, warm-up + cosine learning rate, EMA weights
(what gets saved and sampled), a fixed held-out validation loss, seeded, resumable, atomic saves.

The world-specific parts (data, loss, model, card) come in as a `Task` (see `training.tasks`).
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..models.checkpoint import load_model, save_checkpoint


def load_moments(opt: torch.optim.Optimizer, saved_order: list[torch.nn.Parameter],
                 tensors: dict[str, torch.Tensor]) -> None:
    """Put the train state's AdamW moments (`opt.{i}.*`, numbered by position among the saved model's
    parameters) on `saved_order[i]`; resume passes this model's parameters, growing the shared ones."""
    by_position: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():  # one pass over the file's keys, not one per parameter
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            by_position.setdefault(int(i), {})[name] = value
    for i, param in enumerate(saved_order):
        if i in by_position:
            opt.state[param] = by_position[i]


@dataclass
class TrainConfig:
    kind: str
    out: str
    steps: int = 10_000
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    p_uncond: float = 0.2
    schedule: str = "cosine"
    timesteps: int = 1000
    labels: list[str] = field(default_factory=list)
    model: dict = field(default_factory=dict)
    seed: int = 0
    eval_every: int = 250
    save_every: int = 1000
    save_minutes: float = 15.0  # also save when this much wall time passed since the last save
    threads: int = 2
    min_snr_gamma: float = 0.0  # > 0: Min-SNR loss weighting (see GaussianDiffusion.training_loss)
    stf_reference: int = 0  # > 0: Stable Target Field targets over this many further examples (core.stf)
    t_band: list = field(default_factory=list)  # [lo, hi, weight]: t in [lo, hi) drawn weight x as often
    command: str = ""  # the command line that started the run, for the model card


def lr_factor(step: int, warmup: int, total: int, floor: float = 0.1) -> float:
    """Linear warm-up to 1, then cosine decay to `floor` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Trainer:
    def __init__(self, task, config: TrainConfig):
        self.task, self.config = task, config
        torch.set_num_threads(config.threads)
        with torch.random.fork_rng(devices=[]):  # weight init seeds a private copy of the global RNG
            torch.manual_seed(config.seed)
            self.model = task.make_model()
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        decay, no_decay = [], []
        for p in self.model.parameters():
            (decay if p.ndim >= 2 else no_decay).append(p)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.history: dict = {"loss": [], "val_loss": [], "seconds": 0.0, "samples_seen": 0}
        self.val_batch = task.validation_batch()

    # -- one step ------------------------------------------------------------------------------
    def train_step(self) -> float:
        c = self.config
        for g in self.opt.param_groups:
            g["lr"] = c.lr * lr_factor(self.step, c.warmup, c.steps)
        self.model.train()
        loss = self.task.loss(self.model, self.task.batch(self.step, self.gen), self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
        self.opt.step()
        decay = min(c.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - decay)
        self.step += 1
        self.history["samples_seen"] += c.batch_size
        return loss.item()

    @torch.no_grad()
    def validate(self) -> float:
        """The loss of the EMA model on the fixed held-out batch (fixed t, noise and labels)."""
        return float(self.task.loss(self.ema, self.val_batch, torch.Generator().manual_seed(12345),
                                    validation=True))

    # -- the loop ------------------------------------------------------------------------------
    def run(self, max_seconds: float | None = None, should_stop: Callable[[], bool] | None = None,
            on_eval: Callable[["Trainer"], None] | None = None, progress: bool = True,
            eval_due: Callable[[], bool] | None = None) -> dict:
        """Train to config.steps. Evaluates every eval_every steps, at the end, on a stop, and
        whenever `eval_due()` says so (a live curve wants points by the clock, not by steps)."""
        c = self.config
        bar = tqdm(total=c.steps, initial=self.step, disable=not progress, desc=f"train {c.kind}")
        start, running = time.perf_counter(), None
        last_save = start
        base_seconds = self.history["seconds"]
        # One record per run: a model trained over several interrupted runs names each command in its card.
        segment = {"command": c.command, "seed": c.seed, "from_step": self.step, "to_step": self.step, "seconds": 0.0}
        self.history.setdefault("runs", []).append(segment)
        while self.step < c.steps:
            loss = self.train_step()
            running = loss if running is None else 0.98 * running + 0.02 * loss
            segment["seconds"] = time.perf_counter() - start
            segment["to_step"] = self.step
            self.history["seconds"] = base_seconds + segment["seconds"]
            bar.update(1)
            done = self.step == c.steps
            over = max_seconds is not None and time.perf_counter() - start >= max_seconds
            stop = over or (should_stop is not None and should_stop())
            if self.step % c.eval_every == 0 or done or stop or (eval_due is not None and eval_due()):
                self.history["loss"].append([self.step, running])
                self.history["val_loss"].append([self.step, self.validate()])
                bar.set_postfix(loss=f"{running:.4f}", val=f"{self.history['val_loss'][-1][1]:.4f}")
                if on_eval is not None:
                    on_eval(self)
            late = time.perf_counter() - last_save >= 60 * c.save_minutes
            if c.out and (self.step % c.save_every == 0 or done or stop or late):
                self.save()
                last_save = time.perf_counter()
            if stop:
                break
        bar.close()
        return self.history

    # -- saving and resuming -------------------------------------------------------------------
    def save(self, out: str | None = None) -> Path:
        out = out or self.config.out
        self.history["step"] = self.step
        self.history["train_config"] = asdict(self.config)

        def state(folder: Path) -> None:
            tensors = {f"model.{k}": v.contiguous() for k, v in self.model.state_dict().items()}
            for i, p in enumerate(self.model.parameters()):
                for k, v in self.opt.state.get(p, {}).items():
                    tensors[f"opt.{i}.{k}"] = v.contiguous()
            tensors["rng"] = self.gen.get_state()
            save_file(tensors, folder / "train_state.safetensors")
            (folder / "train_state.json").write_text(json.dumps({"step": self.step}) + "\n")

        return save_checkpoint(out, self.ema, self.task.diffusion_config(), self.history,
                               self.task.card(self), extra=state)

    def resume(self, folder: str | Path) -> bool:
        """Continue from `folder`'s train state (same config); False if there is none."""
        folder = Path(folder)
        if not (folder / "train_state.safetensors").is_file():
            return False
        tensors = load_file(folder / "train_state.safetensors")
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
        self.ema.load_state_dict(load_model(type(self.ema), folder).state_dict(), strict=True)
        load_moments(self.opt, list(self.model.parameters()), tensors)
        self.gen.set_state(tensors["rng"])
        self.history = json.loads((folder / "history.json").read_text())
        self.step = json.loads((folder / "train_state.json").read_text())["step"]
        return True

"""Grow a trained network: start a larger one (`--init-from DIR`, e.g. a U-Net with `extra_blocks`) from
a smaller run's state, so the new capacity is added to what was learned instead of relearning it.

Every tensor of the smaller run must exist in the larger model with the same shape; the tensors it
lacks are the new blocks, which start as the identity (`models.unet.identity_block`), so the grown
network begins as the same function. From the run's train state come the raw weights, their AdamW
moments (matched by parameter name) and the step, so the learning-rate schedule and the history go
on where the smaller run stopped; from its `model.safetensors`, the EMA weights. Files are read with
safetensors, never unpickled.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from .trainer import load_moments


def _merged(model: torch.nn.Module, base: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """model's state with every tensor of `base` put in; ValueError naming the first that does not fit."""
    state = model.state_dict()
    for name, tensor in base.items():
        if name not in state:
            raise ValueError(f"--init-from={source} is not allowed: its tensor {name} has no place in this model "
                             f"(allowed: a checkpoint of the same model with fewer extra blocks)")
        if state[name].shape != tensor.shape:
            raise ValueError(f"--init-from={source} is not allowed: its tensor {name} has shape "
                             f"{tuple(tensor.shape)}, this model's {tuple(state[name].shape)}")
    new = sorted(set(state) - set(base))
    is_growth = getattr(model, "is_growth_key", lambda key: False)  # models that cannot grow have no new keys
    foreign = [k for k in new if not is_growth(k)]
    if foreign:
        raise ValueError(f"--init-from={source} is not allowed: it lacks {foreign[0]}, which is not part of an "
                         f"extra block (allowed: a checkpoint of the same model with fewer extra blocks)")
    return {**state, **base}


def init_from(trainer, folder: str | Path) -> None:
    """Load the smaller run in `folder` into `trainer` (model, EMA, optimizer moments, step, history)."""
    folder = Path(folder)
    for name in ("model.safetensors", "history.json"):
        if not (folder / name).is_file():
            raise ValueError(f"--init-from={folder} is not allowed: {name} is missing (allowed: a training run's folder)")
    ema = load_file(folder / "model.safetensors")
    trainer.ema.load_state_dict(_merged(trainer.ema, ema, folder), strict=True)
    state_file = folder / "train_state.safetensors"
    tensors = load_file(state_file) if state_file.is_file() else {}
    raw = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")} or ema
    trainer.model.load_state_dict(_merged(trainer.model, raw, folder), strict=True)
    # The grown model registers the smaller one's modules in the same order, new ones added, so its shared
    # parameters keep the positions the moments were saved under (safetensors sorts keys: no order in the file).
    load_moments(trainer.opt, [p for k, p in trainer.model.named_parameters() if k in raw], tensors)
    if "rng" in tensors:
        trainer.gen.set_state(tensors["rng"])
    history = json.loads((folder / "history.json").read_text())
    trainer.history = {**trainer.history, **{k: history[k] for k in ("loss", "val_loss", "seconds", "samples_seen",
                                                                      "runs") if k in history}}
    trainer.history["init_from"] = str(folder)
    state_json = folder / "train_state.json"
    trainer.step = json.loads(state_json.read_text())["step"] if state_json.is_file() else int(history.get("step", 0))

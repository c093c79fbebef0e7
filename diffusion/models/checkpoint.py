"""Checkpoint folders: config.json + model.safetensors (huggingface_hub's PyTorchModelHubMixin),
diffusion.json (the world, its label names and the noise schedule), history.json (training
losses) and README.md (the model card). Loads from a local folder or a Hub repo id, strictly;
nothing is ever unpickled.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

from torch import nn

from ..core.gaussian import GaussianDiffusion
from .branches import BranchUNets
from .classifiers import DigitClassifier, PointClassifier
from .lenet import LeNet
from .mlp import PointDenoiser
from .unet import UNet

# Denoisers (BranchUNets: two U-Nets joined, never trained as one), the LeNet judge and the noise-aware classifiers (whose diffusion.json carries the
# schedule that gives their t its meaning).
ARCHITECTURES: dict[str, type[nn.Module]] = {"PointDenoiser": PointDenoiser, "UNet": UNet, "LeNet": LeNet,
                                             "BranchUNets": BranchUNets,
                                             "PointClassifier": PointClassifier,
                                             "DigitClassifier": DigitClassifier}
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = REPO_ROOT / "checkpoints"


class CheckpointError(ValueError):
    """A checkpoint that is missing, malformed or does not fit its config."""


@dataclass
class DiffusionConfig:
    """What a denoiser needs besides its weights: its world, label names and noise schedule."""
    world: str
    labels: list[str]
    architecture: str
    schedule: str = "cosine"
    timesteps: int = 1000
    p_uncond: float = 0.2

    def make_diffusion(self) -> GaussianDiffusion:
        return GaussianDiffusion.from_schedule(self.schedule, self.timesteps)


@dataclass
class Checkpoint:
    model: nn.Module
    config: DiffusionConfig | None
    history: dict = field(default_factory=dict)
    path: Path | None = None

    @cached_property
    def diffusion(self) -> GaussianDiffusion:
        return self.config.make_diffusion()


def default_checkpoint(kind: str) -> Path:
    return CHECKPOINTS / kind


def resolve(source: str | os.PathLike, kind: str = "") -> Path:
    """A local folder as it is; "user/name" that is not a folder: downloaded from the Hub."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    old = path.with_name(path.name + ".old")  # a save that was killed between its two renames
    if old.is_dir():
        return old
    text = str(source)
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        from huggingface_hub import snapshot_download
        try:
            return Path(snapshot_download(text, allow_patterns=["*.json", "*.safetensors", "*.md"]))
        except Exception as e:  # offline, no such repo, no access: say where we looked
            raise CheckpointError(f"could not load checkpoint {text!r}: no such folder, and the Hub "
                                  f"said: {str(e).splitlines()[0]}") from None
    raise CheckpointError(f"no checkpoint at {path.resolve()}: the folder does not exist. "
                          f"Train one with `python -m diffusion.train {kind or 'WORLD'}`.")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from None


def load_model(cls: type[nn.Module], folder: Path) -> nn.Module:
    """cls.from_pretrained(folder) with strict=True; any failure becomes a CheckpointError."""
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise CheckpointError(f"no checkpoint at {folder}: {name} is missing")
    try:
        model = cls.from_pretrained(folder, strict=True)
    except Exception as e:  # wrong keys, shapes, config args, corrupt file
        raise CheckpointError(f"checkpoint {folder} does not fit {cls.__name__}: {e}") from None
    return model.eval()


def load_checkpoint(source: str | os.PathLike, kind: str = "") -> Checkpoint:
    """Load a denoiser or a noise-aware classifier (with its DiffusionConfig), or the LeNet judge
    (kind="lenet")."""
    folder = resolve(source, kind)
    if kind == "lenet":
        return Checkpoint(load_model(LeNet, folder), None, path=folder)
    raw = _read_json(folder / "diffusion.json")
    try:
        config = DiffusionConfig(**raw)
        cls = ARCHITECTURES[config.architecture]
    except (TypeError, KeyError) as e:
        raise CheckpointError(f"{folder / 'diffusion.json'} is malformed ({e}); expected keys "
                              f"{list(DiffusionConfig.__dataclass_fields__)}") from None
    model = load_model(cls, folder)
    if getattr(model, "num_classes", len(config.labels)) != len(config.labels):
        raise CheckpointError(f"{folder}: the model has {model.num_classes} classes but "
                              f"diffusion.json names {len(config.labels)} labels")
    history = _read_json(folder / "history.json") if (folder / "history.json").is_file() else {}
    return Checkpoint(model, config, history, folder)


def atomic_dir(out: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a fresh folder, then swap it in for `out`: a run killed at any moment
    leaves either the old or the new checkpoint (at `out` or, between the renames, `out.old`)."""
    out = Path(out)
    tmp, old = out.with_name(out.name + ".tmp"), out.with_name(out.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def save_checkpoint(out: str | os.PathLike, model: nn.Module, config: DiffusionConfig | None,
                    history: dict, card: str, extra: Callable[[Path], None] | None = None) -> Path:
    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        if config is not None:
            (folder / "diffusion.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        (folder / "history.json").write_text(json.dumps(history) + "\n")
        (folder / "README.md").write_text(card)
        if extra is not None:
            extra(folder)
    return atomic_dir(out, write)

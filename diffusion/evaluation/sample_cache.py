"""Resumable evaluations (`--cache DIR`): every chunk of generated samples is saved as it is made, under
a key that covers everything that decides it, so a run that was stopped (a session's end, a
crash, Ctrl-C) starts again where it stopped, and a second table over the same runs (the samplers'
DDIM-100 and the vs-exact's network at guidance 1, say) samples nothing twice.

The key: the denoiser's weights (and those of the weak model or classifier its guidance method
uses), the source of the sampling code (`CODE`: a change there invalidates every entry), the run's
settings (labels, guidance, steps, sampler, eta, seed, method parameters) and the timestep spacing
the run uses. Entries are plain `.npy` arrays in model space, read without pickle, each with a
`.json` beside it that records how long it took to make, so a table built from the cache still
reports what its rows cost (`Stopwatch`).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core.checks import invalid
from ..core.guidance import PARAMS

PACKAGE = Path(__file__).resolve().parents[1]
# What turns weights and settings into samples; the reports' own code (judging, tables) is not here,
# since a cached entry holds samples, not measures.
CODE = ("core", "models", "guided_sampler.py")
_digests: "weakref.WeakKeyDictionary[torch.nn.Module, str]" = weakref.WeakKeyDictionary()


def model_digest(model: torch.nn.Module) -> str:
    """sha256 of a module's class and state (names, dtypes, shapes and bytes of every parameter
    and buffer); computed once per module object."""
    if model not in _digests:
        h = hashlib.sha256(type(model).__name__.encode())
        for name, v in sorted(model.state_dict().items()):
            h.update(f"{name} {v.dtype} {tuple(v.shape)}".encode())
            h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        _digests[model] = h.hexdigest()
    return _digests[model]


def code_digest() -> str:
    """sha256 of the sampling code's source files (`CODE`), in path order."""
    h = hashlib.sha256()
    for entry in CODE:
        path = PACKAGE / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(f.relative_to(PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


class SampleCache:
    """`fetch(sampler, run, make)`: the samples of one run, from DIR when an earlier run saved
    them, else `make()` (a (n, ...) float32 tensor in model space), saved before it is returned.
    `hits` and `misses` count the two cases; `seconds` adds up the sampling time of every chunk
    returned (as recorded when it was made), `unrecorded` counts hits that carry no record."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise invalid("cache", str(folder), f"a folder this process can create ({e.strerror})") from None
        if not os.access(self.folder, os.W_OK):  # found now, not after the first hour of sampling
            raise invalid("cache", str(folder), "a folder this process can write to")
        self.code = code_digest()
        self.hits = self.misses = self.unrecorded = 0
        self.seconds = 0.0

    def key(self, sampler, run: dict) -> str:
        """The entry's name: sha256 of the models, the code, the run's settings and its spacing.
        run: labels, guidance, steps, sampler, eta, seed and the guide (method and parameters)."""
        guide = run.get("guide") or {}
        method = guide.get("method", "cfg")
        helpers = {k: model_digest(sampler.helper(k)) for k, p in PARAMS[method].items() if p.kind == "model"}
        full = {**run, "model": model_digest(sampler.checkpoint.model), "helpers": helpers, "code": self.code,
                "spacing": sampler.spacing_for(run["sampler"], run["eta"])}
        return hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def fetch(self, sampler, run: dict, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        path = self.folder / f"{self.key(sampler, run)}.npy"
        record = path.with_suffix(".json")
        if path.exists():
            self.hits += 1
            try:
                self.seconds += float(json.loads(record.read_text())["seconds"])
            except (OSError, ValueError, KeyError, TypeError):
                self.unrecorded += 1
            return torch.from_numpy(np.load(path, allow_pickle=False))
        self.misses += 1
        start = time.perf_counter()
        x = make()
        took = time.perf_counter() - start
        self.seconds += took
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:  # written whole, then renamed: a killed run leaves no half entry
            np.save(f, x.detach().cpu().numpy(), allow_pickle=False)
        record.write_text(json.dumps({"seconds": took}))
        os.replace(tmp, path)
        return x


class Stopwatch:
    """The seconds one table row spent sampling: measured, or with a cache, the seconds recorded
    when its chunks were made (None when a chunk carries no record); `seconds_text` for a table cell."""

    def __init__(self, cache: SampleCache | None = None):
        self.cache, self.start = cache, time.perf_counter()
        self.mark = (cache.seconds, cache.unrecorded) if cache is not None else None

    def seconds(self) -> float | None:
        if self.cache is None:
            return time.perf_counter() - self.start
        if self.cache.unrecorded > self.mark[1]:
            return None
        return self.cache.seconds - self.mark[0]


def seconds_text(seconds: float | None) -> str:
    """A time cell: whole seconds, or "-" for samples made before the cache recorded times."""
    return "-" if seconds is None else f"{seconds:.0f}"


def seconds_note(rows: list[dict]) -> str:
    """The sentence a table's note needs when a time cell is "-" (else "")."""
    if any(r.get("seconds", 0) is None for r in rows):
        return (" time: seconds spent sampling, as recorded when the samples were made; -: samples from the cache "
                "(`--cache`) made before it recorded times.")
    return ""

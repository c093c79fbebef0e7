"""The app's models: the shipped ones, shared by everybody, and the ones visitors train or upload,
each owned by the browser session that made it (`sessions.session_id`).

A session sees and uses only its own models; another session's model is "not allowed" exactly as
an unknown name is (nothing says it exists). Each made model gets a unique number. Memory is
bounded: a session keeps its PER_SESSION newest models, the server at most MAX_MADE in all, and a
session's models are dropped (and their upload folders deleted) when the session ends.
"""
from __future__ import annotations

import itertools
import shutil
import threading
from pathlib import Path

from ..core.checks import invalid
from ..guided_sampler import GuidedSampler, checkpoint_source
from ..models.checkpoint import Checkpoint
from ..worlds import get_world
from .sessions import session_id

SHIPPED = "shipped"
EXACT = "exact reference"  # the exact denoiser of a small pool (World.exact_pool per class), lazily built
PER_SESSION = 2  # made models a session keeps: a third replaces its oldest
MAX_MADE = 6  # made models the server holds (each a few MB to ~100 MB of memory)
MAX_TRANSIENT = 8  # the named API's drawn models (exact denoisers of at most 2000 points: ~100 KB each)
DRAWING = "my drawing"  # a session's drawn data set's model: "my drawing #3"


class Models:
    """GuidedSamplers by (world, name): "shipped" loads lazily from checkpoints/ (or the source
    in $GDE_<WORLD>_CHECKPOINT); EXACT is the exact denoiser of World.exact_pool examples per
    class with the shipped model's schedule and labels; trained and uploaded models are
    registered under new names, owned by a session (`owner`; default: the current event's)."""

    def __init__(self, per_session: int = PER_SESSION, max_made: int = MAX_MADE):
        self._models: dict[tuple[str, str], GuidedSampler] = {}
        self._owners: dict[tuple[str, str], str] = {}  # made models only, oldest first
        self._folders: dict[tuple[str, str], Path] = {}  # deleted with the model
        self._transient: list[tuple[str, str]] = []  # content-named drawn models of the API, oldest first
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.per_session, self.max_made = per_session, max_made

    def new_id(self) -> int:
        """A number no other made model has (names stay unique even within one second)."""
        return next(self._ids)

    def get(self, world, name: str = SHIPPED, owner: str | None = None) -> GuidedSampler:
        world, owner = get_world(world), owner or session_id()
        with self._lock:  # two first requests must not load the same model twice
            key = (world.name, name) if isinstance(name, str) else None
            if key is None or (key not in self._models and name not in (SHIPPED, EXACT)) or \
                    self._owners.get(key, owner) != owner:
                raise invalid("model", name, ", ".join(self._names(world.name, owner)))
            if key not in self._models:
                shipped = self._models.get((world.name, SHIPPED)) or GuidedSampler.load(world, checkpoint_source(world))
                self._models[(world.name, SHIPPED)] = shipped
                if name == EXACT:  # the pool is drawn with seed 1 (`GuidedSampler.exact`)
                    self._models[key] = shipped.exact(world.exact_pool, seed=0)
            return self._models[key]

    def register(self, world, name: str, checkpoint: Checkpoint | GuidedSampler, owner: str | None = None,
                 folder: Path | None = None) -> str:
        """Add `owner`'s model (a checkpoint, or a ready sampler such as a drawing's exact denoiser;
        and the folder to delete with it); the owner's oldest goes beyond PER_SESSION; ValueError
        when the server holds MAX_MADE."""
        world, owner = get_world(world).name, owner or session_id()
        sampler = checkpoint if isinstance(checkpoint, GuidedSampler) else None
        checkpoint = sampler.checkpoint if sampler else checkpoint
        if checkpoint.config is None or checkpoint.config.world != world:
            raise ValueError(f"model {name!r} is not a {world} denoiser")
        with self._lock:
            mine = [k for k, o in self._owners.items() if o == owner]
            if len(self._owners) - max(0, len(mine) - self.per_session + 1) >= self.max_made:
                raise ValueError(f"models: the server holds {self.max_made} trained or uploaded models, the most it "
                                 "keeps; allowed: try again when other visitors have left")
            for key in mine[:max(0, len(mine) - self.per_session + 1)]:
                self._forget(key)
            self._models[(world, name)] = sampler or GuidedSampler(checkpoint)
            self._owners[(world, name)] = owner
            if folder is not None:
                self._folders[(world, name)] = Path(folder)
        return name

    def transient(self, world, sampler: GuidedSampler) -> str:
        """A drawn model of the named API, by the content of its drawing ("drawing <hash>"): any
        session may use it (it has the points it was made from); the oldest goes beyond MAX_TRANSIENT."""
        key = (get_world(world).name, f"drawing {sampler.data.key}")
        with self._lock:
            if key not in self._models:
                self._models[key] = sampler
                self._transient.append(key)
                while len(self._transient) > MAX_TRANSIENT:
                    self._models.pop(self._transient.pop(0), None)
        return key[1]

    def latest_drawing(self, world, owner: str | None = None):
        """(name, drawing) of `owner`'s newest drawn model, or None."""
        world, owner = get_world(world).name, owner or session_id()
        with self._lock:
            mine = [k for k, o in self._owners.items() if o == owner and k[0] == world and
                    k[1].startswith(DRAWING) and self._models[k].data is not None]
            return (mine[-1][1], self._models[mine[-1]].data) if mine else None

    def names(self, world, owner: str | None = None) -> list[str]:
        """The model names `owner` may pick: shipped, then its own."""
        with self._lock:
            return self._names(get_world(world).name, owner or session_id())

    def _names(self, world: str, owner: str | None) -> list[str]:
        return [SHIPPED] + [n for (w, n), o in self._owners.items() if w == world and o == owner]

    def drop(self, owner: str) -> int:
        """Forget every model of `owner` (its session ended); how many there were."""
        with self._lock:
            keys = [k for k, o in self._owners.items() if o == owner]
            for key in keys:
                self._forget(key)
        return len(keys)

    def made(self) -> int:
        with self._lock:
            return len(self._owners)

    def _forget(self, key) -> None:
        self._models.pop(key, None)
        self._owners.pop(key, None)
        folder = self._folders.pop(key, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

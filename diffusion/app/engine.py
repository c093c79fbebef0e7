"""The cached sampler behind the app: models load lazily and once, results are kept in a bounded
LRU cache keyed by every input, and sampling streams its frames so a UI can show them as they come.

    >>> engine = Engine()                          # built once by app.py and handed to the handlers
    >>> req = engine.request("points", "shipped", "spiral", 2.0, 100, "ddpm", 0.0, 0, 1000)
    >>> for item in engine.stream(req): ...       # Progress objects, then one Result
    >>> engine.run(req).samples.shape              # (1000, 2); a second call is a cache hit

Stored frames are what a viewer needs, in the world's `display` form (points as float32 (S + 1, n, 2),
digits as uint8 (S + 1, n, 28, 28), which keeps a 64-digit x 1000-step run near 100 MB). The final
samples are kept exactly, in the public data format. Every input is checked by `diffusion.inputs`.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from ..budget import check_budget
from ..inputs import METHOD_PARAMS, SampleArgs, sample_args
from ..worlds import get_world
from .memory import own_pages, trim
from .models import EXACT, SHIPPED, Models
WAIT_LIMIT = 60.0  # seconds a run waits for an identical one in flight (background: per step / 30)
RUNS = 2  # visitors' runs computing at once; the others wait for a slot (cache hits never do)
TIME_LIMIT = 120.0  # seconds a visitor's run may compute; the budget keeps the heaviest near 30 s


@dataclass(frozen=True)
class Request(SampleArgs):
    """Every input that determines a sampling run (and so the cache key): the checked sampling
    arguments, and which world and model they are for."""
    world: str = ""
    model: str = SHIPPED


@dataclass
class Progress:
    index: int  # frame 0..S
    total: int  # S + 1
    t: int
    x: np.ndarray  # the stored (display) form of x_t, (n, ...)
    x0: np.ndarray


@dataclass
class Result:
    request: Request
    xs: np.ndarray  # (S + 1, n, ...) x_T ... x_0, display form
    x0s: np.ndarray  # (S + 1, n, ...) x0 predictions, display form
    timesteps: list[int]
    samples: np.ndarray  # final samples in the public data format (float32)
    seconds: float  # compute time of the run's own steps: no waiting for other runs, no rendering
    artifacts: dict = field(default_factory=dict)  # files the UI rendered once (png, gif, ...)
    views: dict = field(default_factory=dict)  # pictures the UI drew once (the player's frames)

    @property
    def nbytes(self) -> int:
        """The arrays, and the pictures drawn from them and kept with the result (the player's
        frames, about as large again): the cache's byte limit counts both."""
        return self.xs.nbytes + self.x0s.nbytes + self.samples.nbytes + _text_bytes(self.views)


def _text_bytes(obj) -> int:
    """Characters of the strings and bytes inside nested dicts, lists and tuples."""
    if isinstance(obj, (str, bytes)):
        return len(obj)
    if isinstance(obj, dict):
        obj = list(obj.values())
    return sum(map(_text_bytes, obj)) if isinstance(obj, (list, tuple)) else 0


class _Run(threading.Event):
    """Set when a run in flight ends; `background` says whether a visitor may take it over."""

    def __init__(self, background: bool):
        super().__init__()
        self.background = background


class Engine:
    """The result cache and its sampler. `busy()` says whether something else (a live training job)
    is using the CPU: the sampler then runs on one thread."""

    def __init__(self, max_results: int = 48, max_bytes: int = 1_500_000_000,
                 busy: Callable[[], bool] = lambda: False, runs: int = RUNS,
                 on_evict: Callable[[Result], None] = lambda res: None):
        self.models = Models()
        self.on_evict = on_evict  # e.g. delete the evicted result's files
        # Misses wait here, inside the engine, so that the UI server's queue can take many requests
        # at once and answer cache hits without waiting behind runs.
        self._slots = threading.BoundedSemaphore(runs)
        self.busy = busy
        self.max_results, self.max_bytes = max_results, max_bytes
        self._cache: OrderedDict[Request, Result] = OrderedDict()
        self._lock = threading.Lock()
        # One network step at a time: concurrent requests interleave step by step instead of
        # running two OpenMP teams on two cores, which stall each other at every barrier.
        self._compute = threading.Lock()
        self.threads = torch.get_num_threads()
        self.hits = self.misses = 0
        # A request already being computed is not computed twice (the app's warm-up and a first
        # visitor often ask for the same example), and background runs (the warm-up) pause while
        # a visitor's run is computing, so that a first request does not share the CPU with them.
        self._inflight: dict[Request, _Run] = {}
        self._foreground = 0
        self._idle = threading.Condition()

    # -- requests ----------------------------------------------------------------------------
    def request(self, world, model: str, label, guidance, steps, sampler: str, eta, seed, n,
                method="cfg", method_params: dict | None = None) -> Request:
        """Check every input (`diffusion.inputs`: ValueError naming the field, value and range) and
        make the canonical request: label names as strings, samplers lower case, eta 0 for DDPM,
        the method with all its parameters (by public name; other methods' are ignored). A request
        over the cost budget (`diffusion.budget`) is refused here, before anything runs."""
        world = get_world(world)
        s = self.models.get(world, model)
        a = sample_args(world, s.checkpoint.config.labels, label, guidance, steps, sampler, eta, seed, n,
                        method, method_params, strict=False)
        check_budget(world, [a], exact=s.is_exact)
        return Request(**vars(a), world=world.name, model=model)

    def cached(self, req: Request) -> Result | None:
        with self._lock:
            res = self._cache.get(req)
            if res is not None:
                self._cache.move_to_end(req)
            return res

    def _store(self, res: Result) -> None:
        with self._lock:
            self._cache[res.request] = res
            total = sum(r.nbytes for r in self._cache.values())
            evicted = []
            while len(self._cache) > 1 and (len(self._cache) > self.max_results or total > self.max_bytes):
                _, old = self._cache.popitem(last=False)
                total -= old.nbytes
                evicted.append(old)
        for old in evicted:
            self.on_evict(old)

    # -- sampling ----------------------------------------------------------------------------
    def stream(self, req: Request, every: float = 0.0, background: bool = False
               ) -> Iterator[Progress | Result]:
        """Progress for frames as they are computed (the first at once, then at most one per
        `every` seconds, and always the last), then the Result. A cached request yields only it.
        A request that a visitor's run is already computing waits for that run; one that only a
        background run is computing is computed here, streaming, and the background run stops
        when it finds the result cached. A `background` run gives way, step by step, to any
        visitor's run."""
        while True:
            hit = self.cached(req)
            if hit is not None:
                self.hits += 1
                yield hit
                return
            with self._lock:
                running = self._inflight.get(req)
                if running is None or (running.background and not background):
                    done = self._inflight[req] = _Run(background)
                    running = None
            if running is None:
                break
            # Then the cache has it, unless that run failed (compute it here) or stalls, e.g. its
            # viewer left mid-stream: after WAIT_LIMIT this run goes its own way.
            if not running.wait(WAIT_LIMIT):
                done = _Run(background)
                break
        self.misses += 1
        slot = False
        try:
            if not background:
                slot = self._slots.acquire()
                with self._idle:
                    self._foreground += 1
            yield from self._compute_run(req, every, background)
        finally:  # also when the consumer closes the stream (its viewer left): the run stops here
            with self._lock:
                if self._inflight.get(req) is done:
                    del self._inflight[req]
            done.set()
            if slot:
                self._slots.release()
                with self._idle:
                    self._foreground -= 1
                    self._idle.notify_all()
            trim()  # the run's working memory (and any evicted result's) back to the system

    def wait_idle(self, timeout: float = WAIT_LIMIT) -> bool:
        """Block until no visitor's run is computing (background work, such as the warm-up's
        rendering, calls this first); False if `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._foreground == 0, timeout=timeout)

    def _compute_run(self, req: Request, every: float, background: bool) -> Iterator[Progress | Result]:
        s = self.models.get(req.world, req.model)
        world = get_world(req.world)
        busy, last = 0.0, -np.inf  # busy: seconds of this run's own steps (not waits, not rendering)
        xs = x0s = None
        ts: list[int] = []
        total = req.steps + 1
        params = {METHOD_PARAMS[req.method][k].name: v for k, v in req.method_params}  # by public name
        frames = s.frames(req.label, req.guidance, req.steps, req.sampler, req.eta, req.n, req.seed, req.method,
                          **params)
        deadline = time.monotonic() + TIME_LIMIT
        while True:
            if not background and time.monotonic() > deadline:
                raise ValueError(f"time limit: the run took over {TIME_LIMIT:.0f} s (the server is busy); "
                                 "allowed: fewer samples or steps, or try again later")
            if background:
                self.wait_idle(WAIT_LIMIT / 30)
                hit = self.cached(req)
                if hit is not None:  # a visitor's run took this request over and finished it
                    yield hit
                    return
            # A UI server may resume this generator on a different worker thread at every frame:
            # thread-local settings (inference mode, OpenMP threads) are set for each step.
            with self._compute, torch.inference_mode():
                began = time.perf_counter()
                torch.set_num_threads(1 if self.busy() else self.threads)
                f = next(frames, None)
                busy += time.perf_counter() - began
            if f is None:
                break
            x, x0 = world.display(world.to_data(f.x)), world.display(world.to_data(f.x0))
            if xs is None:
                xs, x0s = own_pages((total, *x.shape), x.dtype), own_pages((total, *x.shape), x.dtype)
            xs[f.index], x0s[f.index] = x, x0
            ts.append(f.t)
            now = time.perf_counter()
            if f.index == total - 1:
                final = s.to_data(f.x)
            elif now - last >= every:
                last = now
                yield Progress(f.index, total, f.t, x, x0)
        res = Result(req, xs, x0s, ts, final, busy)
        self._store(res)
        yield res

    def run(self, req: Request, background: bool = False) -> Result:
        for item in self.stream(req, every=float("inf"), background=background):
            if isinstance(item, Result):
                return item
        raise RuntimeError("sampling ended without a result")  # unreachable: stream always ends in one

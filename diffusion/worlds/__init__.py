"""The world registry: each world (2D points, MNIST digits, or one a user adds) is one `World`
object registered here under its name. Public names are resolved to a World once, at the edge
(CLI, API, app), with `get_world`; nothing else compares world names.

    >>> from diffusion.worlds import get_world, register
    >>> get_world("mnist").labels[:3]          # ('0', '1', '2')
    >>> register(MyWorld(...))                 # a third world: no other module changes
"""
from __future__ import annotations

from ..core.checks import invalid
from .base import Sizes, TrainingData, World
from .mnist import MNIST
from .points import POINTS

_REGISTRY: dict[str, World] = {}


def register(world: World) -> World:
    """Add (or replace) a world under its name; returns it."""
    _REGISTRY[world.name] = world
    return world


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def world_names() -> list[str]:
    return list(_REGISTRY)


def get_world(name) -> World:
    """The registered world of that name (a World passes through); ValueError naming the choices."""
    if isinstance(name, World):
        return name
    world = _REGISTRY.get(name) if isinstance(name, str) else None
    if world is None:
        raise invalid("world", name, ", ".join(_REGISTRY))
    return world


register(POINTS)
register(MNIST)

__all__ = ["World", "Sizes", "TrainingData", "register", "unregister", "world_names", "get_world"]

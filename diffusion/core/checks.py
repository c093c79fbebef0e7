"""The one format of a rejected value, for every layer: the field, the value (cut to 80
characters) and what is allowed. `diffusion.inputs` defines the public parameters with it; the
core and the worlds use it for the checks they must make themselves."""
from __future__ import annotations

MAX_SHOWN = 80


def shown(value) -> str:
    """repr(value), cut to MAX_SHOWN characters: a 1 MB bad value is not echoed back whole."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def invalid(field: str, value, allowed: str) -> ValueError:
    """ValueError("steps=0 is not allowed; allowed: an integer in 1..1000")."""
    return ValueError(f"{field}={shown(value)} is not allowed; allowed: {allowed}")


def first_line(e: BaseException) -> str:
    """An error's message in one line (its first), or its type's name when it has none."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]

"""Hostile values through every event of a running app, and the verdict on each answer: what the
reliability test and `make soak` send (`diffusion.app.http_calls` reaches every event, hidden ones
included, with raw JSON: NaN and infinities as such).

Each event is called with the page's own default values, one input replaced by one hostile value
at a time. A refusal must name the field and what is allowed, with the value cut to 80 characters
(`core.checks.invalid`'s format); values that are never valid (NaN, infinities, null, booleans,
lists, dicts, 1 MB of text, paths, markup, non-integers for integers) must be refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .http_calls import Session

BIG = "9" * 1_000_000
NEVER_VALID = [float("nan"), float("inf"), float("-inf"), True, [1, 2], {"a": 1}, BIG,
               "../../../../etc/passwd", "<script>alert(1)</script>", "", "no such thing"]
# Valid somewhere, refused elsewhere: 1.5 is a guidance, null a method parameter's default
MAYBE_VALID = [-1, 10 ** 9, 1.5, "5", None]
REFUSAL = re.compile(r"^(?P<field>[^=\n]{1,60})=(?P<value>.*?) is not allowed(?: \([^)]*\))?; allowed: \S")
STARTS = {"train"}  # events that start something when the value is valid: never-valid values only


@dataclass
class Answer:
    event: str
    position: int
    value: object
    ok: bool
    reply: str
    seconds: float

    def problem(self, integer: bool = False, ignored: bool = False, infinite: bool = False) -> str | None:
        """None if the answer is right; else what is wrong with it. `infinite`: the field takes inf."""
        shown = _short(self.value)
        if self.ok:
            if ignored or (infinite and self.value == float("inf")):
                return None
            if _never(self.value) or (integer and isinstance(self.value, float)):
                return f"{self.event}[{self.position}]={shown}: accepted"
            return None
        if len(self.reply) > 1000:
            return f"{self.event}[{self.position}]={shown}: a reply of {len(self.reply)} characters"
        m = REFUSAL.match(self.reply)
        if m is None:
            return f"{self.event}[{self.position}]={shown}: not a field-named refusal: {self.reply[:200]!r}"
        if len(m["value"]) > 80:
            return f"{self.event}[{self.position}]={shown}: the value is echoed with {len(m['value'])} characters"
        return None


def _never(value) -> bool:
    return any(value is v or (type(value) is type(v) and value == v) for v in NEVER_VALID) or value != value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def inputs_of(s: Session, event: str) -> list[dict]:
    """The components that are `event`'s inputs, from the page's config."""
    dep = next(d for d in s.config["dependencies"] if d.get("api_name") == event)
    return [s.components[i] for i in dep["inputs"]]


def events(s: Session) -> list[str]:
    """Every event with inputs that a client can call."""
    return [d["api_name"] for d in s.config["dependencies"]
            if d.get("api_name") and d["inputs"] and d.get("backend_fn")]


def defaults(comps: list[dict]) -> list:
    return [c.get("props", {}).get("value") for c in comps]


def fuzz(s: Session, names: list[str] | None = None, per_input: int = 0) -> list[tuple[Answer, str | None]]:
    """Every (event, input, hostile value): its answer and the problem with it (None if right).
    `per_input` > 0: that many values per input, taken in turn from the list (a shorter run that
    still sends every kind of value to every event)."""
    out, turn = [], 0
    for event in names or events(s):
        comps = inputs_of(s, event)
        base = defaults(comps)
        for i, comp in enumerate(comps):
            kind = comp.get("type")
            if kind == "state":  # a server-side value (uploads proper have their own test)
                continue
            props = comp.get("props", {})
            integer = (kind == "number" and props.get("precision") == 0) or (kind == "slider" and props.get("step") == 1)
            infinite = "or inf" in str(props.get("info") or "")
            hostile = NEVER_VALID + (MAYBE_VALID if event not in STARTS else [])
            if per_input:
                hostile = [hostile[(turn + k) % len(hostile)] for k in range(per_input)]
                turn += per_input
            for v in hostile:
                ok, reply, seconds = s.call(event, base[:i] + [v] + base[i + 1:], timeout=60)
                a = Answer(event, i, v, ok, str(reply) if not ok else "", seconds)
                out.append((a, a.problem(integer, ignored=kind == "state", infinite=infinite)))
    return out

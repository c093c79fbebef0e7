"""The package's layers, read from the code: imports run one way only (down), there are no import
cycles, and the core and models layers load no UI, plotting, imaging or training code."""
import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

# Lowest first. A module may import its own package's modules and any package of a lower rank.
RANKS = {"diffusion.core": 0, "diffusion.drawing": 0, "diffusion.models": 1, "diffusion.worlds": 2,
         "diffusion.inputs": 3, "diffusion.guided_sampler": 4, "diffusion.budget": 4, "diffusion.hub": 5, "diffusion.training": 6,
         "diffusion.evaluation": 6, "diffusion.app": 7}
ENTRY = 8  # diffusion/sample.py, train.py, evaluate.py, bench.py, push.py: the command lines
TOP = 9  # app.py


def room(module: str) -> tuple[str, int]:
    """(the package or module that is its layer, its rank)."""
    for prefix, rank in RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    return (module, TOP) if module == "app" else (module, ENTRY)


def modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for path in (ROOT / "diffusion").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """The project modules that `name` imports anywhere in its file (also inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            out |= {base} | {f"{base}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in out if m in known and m != name}


def test_imports_run_down_the_layers_only():
    wrong = []
    for name, path in modules().items():
        here, rank = room(name)
        for target in imports(name, path):
            there, target_rank = room(target)
            if there != here and target_rank >= rank:
                wrong.append(f"{name} (rank {rank}) imports {target} (rank {target_rank})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph = {name: imports(name, path) for name, path in modules().items()}
    # A package's __init__ importing its own submodules is how packages work, not a cycle.
    graph = {n: {t for t in ts if not n.startswith(t + ".")} for n, ts in graph.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_core_and_models_load_no_ui_plotting_imaging_or_training_code():
    code = ("import sys, diffusion.core.sampling, diffusion.core.guidance, diffusion.core.field, "
            "diffusion.core.metrics, diffusion.models.checkpoint, diffusion.models.exact, diffusion.models.inference; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'matplotlib', 'PIL') "
            "or m.startswith(('diffusion.app', 'diffusion.training', 'diffusion.drawing', 'diffusion.hub')) "
            "or m == 'app'); print(bad); assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_world_names_live_in_the_world_modules():
    """The names "points" and "mnist" as string literals: only in the world modules (a world's own
    files: points.py, mnist.py, mnist_*.py), the registry and at most one more file of diffusion/
    (the rest asks the registry)."""
    holders = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ("points", "mnist"):
                holders.add(name)
    worlds = {h for h in holders if h == "diffusion.worlds" or h.startswith(("diffusion.worlds.points",
                                                                                "diffusion.worlds.mnist"))}
    assert len(holders - worlds) <= 1, sorted(holders)

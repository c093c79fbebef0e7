"""Diagnostic (not shipped): the uniform average of checkpoints of one architecture (a model soup; all three
ingredients here are fine-tunes of mnist_v4's step-60,000 state, so the average is a longer EMA over their paths).
  PYTHONPATH=. .venv/bin/python resume/diagnostics/soup.py OUT SNAP SNAP [SNAP ...]
OUT gets the first snapshot's config.json, diffusion.json and history.json, and the averaged model.safetensors."""
import shutil, sys
from pathlib import Path
from safetensors.torch import load_file, save_file

out, snaps = Path(sys.argv[1]), [Path(s) for s in sys.argv[2:]]
states = [load_file(s / "model.safetensors") for s in snaps]
if any(s.keys() != states[0].keys() for s in states):
    sys.exit("the snapshots differ in their tensors: not one architecture")
out.mkdir(parents=True, exist_ok=True)
for f in ("config.json", "diffusion.json", "history.json"):
    shutil.copy(snaps[0] / f, out / f)
soup = {k: (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
        for k, v in states[0].items()}
save_file(soup, out / "model.safetensors", metadata={"format": "pt"})
print(f"{out}: the average of {', '.join(map(str, snaps))}")

#!/bin/bash
# The long MNIST measurements of FINISH.md (steps 2-4), unattended and resumable. Working tool for the
# sessions that finish the run; deleted with resume/.
#
#   cd <a worktree of main that nobody edits> && nohup bash resume/finish_chain.sh /work/main > /work/main/runs/chain.log 2>&1 &
#
# It waits for the training process to end (it must have reached step 32,000), then runs each table on
# the run's weights (runs/mnist_v3) with --cache: a session's end stops it, the next call resumes at the
# chunk where it stopped. A table whose JSON exists is done and skipped. Results: runs/eval/*.{json,md,log}.
# Nothing here touches checkpoints/: after shipping the weights, the same commands with --update-card on the
# shipped folder read every sample from the cache (same weights, same code) and only judge.
set -u
ROOT=${1:-/work/main}
PY=$ROOT/.venv/bin/python
RUN=$ROOT/runs/mnist_v3
OUT=$ROOT/runs/eval
CACHE=$ROOT/runs/eval-cache
mkdir -p "$OUT"

while pgrep -f "^$PY -m diffusion.train" > /dev/null; do sleep 30; done
grep -q '"step": 32000' "$RUN/train_state.json" || { echo "the run is not at step 32,000: $(cat "$RUN/train_state.json")"; exit 1; }

table() {  # name, then evaluate's arguments
    local name=$1; shift
    [ -s "$OUT/$name.json" ] && { echo "$name: done before"; return; }
    echo "$(date -u +%H:%M) $name: $*"
    "$PY" -m diffusion.evaluate mnist --checkpoint "$RUN" "$@" --cache "$CACHE" \
        --json "$OUT/$name.json" --markdown "$OUT/$name.md" > "$OUT/$name.log" 2>&1 \
        || { echo "$name failed: see $OUT/$name.log"; tail -3 "$OUT/$name.log"; }
}

if [ ! -s "$OUT/bench.json" ]; then
    echo "$(date -u +%H:%M) bench"
    "$PY" -m diffusion.bench --json --mnist-checkpoint "$RUN" --markdown "$OUT/bench.md" > "$OUT/bench.out" 2>&1 \
        && tail -1 "$OUT/bench.out" > "$OUT/bench.json"
fi
# Issue 15's acceptance (1-3): 100 per class, 100 DDPM steps, the exact denoiser of 2,000 per class.
table vs_exact --vs-exact 2000 --guidance 0 1 2 3
# Which spacing the stochastic samplers take on MNIST (the points world clips lambda for them): few steps only.
table samplers_clipped --samplers ddpm dpm++2m-sde --spacing logsnr-clipped --calls 5 10 20 --guidance 1 2 \
    --plot "$OUT/samplers_clipped.png"
# Issue 16's acceptance 2: quality per call, every sampler, beside DDIM-500.
table samplers --samplers ddpm ddim dpm++2m dpm++2m-sde unipc --guidance 1 2 --plot "$OUT/samplers.png"
echo "$(date -u +%H:%M) chain done"

#!/bin/bash
# Copy the run's EMA weights at every 1000th step into runs/mnist_v3_snaps (post-hoc averaging option).
ROOT=${1:-/work/main}; RUN=$ROOT/runs/mnist_v3; SNAP=$ROOT/runs/mnist_v3_snaps; mkdir -p $SNAP; cp -n $RUN/config.json $RUN/diffusion.json $SNAP/
while true; do
  st=$(python3 -c "import json;print(json.load(open('$RUN/train_state.json'))['step'])" 2>/dev/null)
  if [ -n "$st" ] && [ $((st % 1000)) -eq 0 ] && [ ! -f "$SNAP/ema_$st.safetensors" ]; then
    cp "$RUN/model.safetensors" "$SNAP/tmp.safetensors" 2>/dev/null
    st2=$(python3 -c "import json;print(json.load(open('$RUN/train_state.json'))['step'])" 2>/dev/null)
    [ "$st" = "$st2" ] && mv "$SNAP/tmp.safetensors" "$SNAP/ema_$st.safetensors" && echo "$(date -u +%H:%M) snap $st"
  fi
  [ "$st" = "32000" ] && break
  sleep 20
done

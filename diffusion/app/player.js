() => {
  // The run player (diffusion/app/player.py): the server sends every frame of a run once, as
  // <img class="gde-f"> inside .gde-player; this plays, pauses, loops and scrubs them locally.
  // Gradio re-renders the fragment on each update, so state lives on the element and is rebuilt
  // whenever its data-run changes; events are delegated from the document for the same reason.
  if (window.gdePlayer) return;
  const HOLD_MS = 1000;  // rest on the final sample before looping

  function state(el) {
    if (!el._gde || el._gde.run !== el.dataset.run || el._gde.count !== el.querySelectorAll(".gde-f").length) {
      const frames = el.querySelectorAll(".gde-f");
      const live = el.classList.contains("gde-live");
      el._gde = {run: el.dataset.run, count: frames.length, frames, steps: el.dataset.steps.split(",").map(Number),
                 i: Math.max(frames.length - 1, 0), acc: 0, hold: 0,
                 playing: !live && el.dataset.autoplay === "1" && frames.length > 1};
      if (el._gde.playing) show(el, 0);
      label(el);
    }
    return el._gde;
  }

  function show(el, i) {
    const s = el._gde;
    if (!s.frames.length) return;
    s.frames[s.i].classList.remove("on");
    s.i = i;
    s.frames[i].classList.add("on");
    el.querySelector(".gde-scrub").value = i;
    const pos = el.querySelector(".gde-pos");
    pos.textContent = pos.textContent.replace(/^step \d+/, "step " + s.steps[i]);
  }

  function label(el) {
    const b = el.querySelector(".gde-play");
    b.textContent = el._gde.playing ? "pause" : "play";
    b.setAttribute("aria-pressed", el._gde.playing ? "true" : "false");
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest(".gde-player .gde-play");
    if (!b) return;
    const el = b.closest(".gde-player"), s = state(el);
    if (s.frames.length < 2) return;
    if (!s.playing && s.i === s.frames.length - 1) show(el, 0);  // play again from the start
    s.playing = !s.playing;
    s.acc = s.hold = 0;
    label(el);
    if (!s.playing) follow(el);
  });

  // A step slider with class gde-follow in the same tab (the 2D direction field's) follows the
  // step the user stops at: one server call per stop, none while playing.
  function follow(el) {
    const box = el.closest(".tabitem")?.querySelector(".gde-follow input[type=number]");
    if (!box || box.disabled) return;
    box.value = el._gde.steps[el._gde.i];
    box.dispatchEvent(new Event("input", {bubbles: true}));
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
  }

  document.addEventListener("input", (e) => {
    if (!e.target.matches(".gde-player .gde-scrub")) return;
    const el = e.target.closest(".gde-player"), s = state(el);
    s.playing = false;
    label(el);
    show(el, Number(e.target.value));
  });
  document.addEventListener("change", (e) => {
    if (e.target.matches(".gde-player .gde-scrub")) follow(e.target.closest(".gde-player"));
  });

  let last = performance.now();
  setInterval(() => {
    const now = performance.now(), dt = now - last;
    last = now;
    document.querySelectorAll(".gde-player").forEach((el) => {
      const s = state(el);
      if (!s.playing) return;
      if (s.hold > 0) { s.hold -= dt; if (s.hold <= 0) show(el, 0); return; }
      s.acc += dt / 1000 * Number(el.dataset.fps) * Number(el.querySelector(".gde-speed").value);
      while (s.acc >= 1 && s.hold <= 0) {
        s.acc -= 1;
        if (s.i + 1 < s.frames.length) { show(el, s.i + 1); continue; }
        if (el.querySelector(".gde-loop").checked) s.hold = HOLD_MS;
        else { s.playing = false; label(el); }
        s.acc = 0;
      }
    });
  }, 40);
  window.gdePlayer = true;
}

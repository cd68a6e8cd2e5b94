# Iblagh: `make run` and `make test` are the two commands of the README.
# Everything they need is installed here, idempotently, on a fresh Debian machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SYSTEM := $(VENV)/.system-packages
# Browser crypto, built by `make vendor` (below).
NODE_STAMP := node_modules/.iblagh-installed
VENDOR := source_app/static/vendor
VENDORED := $(VENDOR)/libsodium-wrappers.mjs $(VENDOR)/libsodium-sumo.mjs
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test bench lint clean vendor fuzz soak

run: $(INSTALLED) $(VENDORED)
	./scripts/run-demo.sh

test: $(INSTALLED) $(VENDORED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Three tables: submissions (1, 4, 16 clients), a 1 GiB upload, the officer host at 100k cases.
bench: $(INSTALLED)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench --upload-mb 1024
	$(BIN)/python -m bench --officer
	$(BIN)/python -m bench --dashboard

# The long fuzzing run (tests/fuzz/run.py): five minutes per parser, new coverage merged
# into the committed corpus. `make test` runs each target for a few seconds.
fuzz: $(INSTALLED)
	$(BIN)/python -m tests.fuzz.run --seconds $${FUZZ_SECONDS:-300} --merge

# The crash-safety soak (tests/crash, docs/reliability.md): 100 SIGKILLs of the public
# host, of the officer's sync and of the air-gap import, then the figures. `make test`
# runs 10 per target.
soak: $(INSTALLED) $(VENDORED)
	$(BIN)/python -m tests.crash.run --kills $${SOAK_KILLS:-100} --seed $${SOAK_SEED:-1}

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy crypto backup source_app journalist_app tor bench

# Browser crypto (docs/receipt.md): libsodium's sumo build (argon2id is only in sumo),
# pinned with its integrity hashes by package-lock.json. `npm ci` runs only when
# node_modules is missing or package.json/package-lock.json changed; the ESM build is
# then copied into source_app/static/vendor/ (gitignored: built, never edited).
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "please install Node.js 20 or later and npm (https://nodejs.org/)"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

$(VENDORED) &: $(NODE_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/libsodium-wrappers-sumo/dist/modules-sumo-esm/libsodium-wrappers.mjs $(VENDOR)/
	cp node_modules/libsodium-sumo/dist/modules-sumo-esm/libsodium-sumo.mjs $(VENDOR)/
	cp node_modules/libsodium-sumo/LICENSE $(VENDOR)/LICENSE.libsodium
	@touch $(VENDORED)

vendor: $(VENDORED)

# Translations need no build step: each app compiles its .po catalogs in memory at
# start (source_app/catalogs.py, journalist_app/catalogs.py).

# Debian packages: only what is missing, and only where we may install (root).
$(SYSTEM): Makefile
	@missing=""; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	command -v tor >/dev/null || missing="$$missing tor"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	ldconfig -p | grep -q libpango-1.0 || missing="$$missing libpango-1.0-0"; \
	case "$$(readlink -f "$$(command -v $(PYTHON))")" in /usr/bin/python3*) \
	  dpkg-query -W -f='$${Status}' python3-venv 2>/dev/null | grep -q 'ok installed' || \
	    missing="$$missing python3-venv";; \
	esac; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "please install:$$missing (sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi
	@mkdir -p $(VENV) && touch $@

# Debian's python3 makes venvs only with python3-venv; a failed attempt leaves a
# .venv/bin/python behind, which must not pass for a venv on the next run.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { rm -f $@; \
	  echo "'$(PYTHON) -m venv' failed: on Debian, apt-get install python3-venv, then make again"; \
	  exit 1; }

$(INSTALLED): pyproject.toml $(SYSTEM) | $(VENV)/bin/python
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDOR)

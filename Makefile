# Two commands: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: system install demo test lint typecheck pytest clean

# System packages (FluidSynth, the GM SoundFonts): one list, in scripts/system-packages.sh.
# As root it installs what is missing with apt-get; otherwise it names the command and stops.
system:
	PYTHON=$(PYTHON) bash scripts/system-packages.sh

# torch first, pinned, so that pip takes the CPU wheel already on this machine instead of
# resolving a multi-GB CUDA build for the project's `torch>=` requirement.
$(STAMP): pyproject.toml | system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: system $(STAMP)

# Render the example score with the shipped default model, and a spectrogram picture of it.
demo: system $(STAMP)
	mkdir -p out
	$(BIN)/gansynth render data/midi/demo.mid -o out/demo.wav
	$(BIN)/gansynth spectrogram out/demo.wav -o out/demo.png --title "gansynth: data/midi/demo.mid"
	@echo "wrote out/demo.wav and out/demo.png"

lint: $(STAMP)
	$(BIN)/ruff check gansynth tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy gansynth

# GANSYNTH_SYSTEM_PACKAGES=1: tests that need FluidSynth or a SoundFont fail instead of skipping,
# since `system` installed them.
pytest: system $(STAMP)
	GANSYNTH_SYSTEM_PACKAGES=1 $(BIN)/python -m pytest -q

test: system lint typecheck pytest

clean:
	rm -rf $(VENV) out build *.egg-info

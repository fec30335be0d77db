#!/usr/bin/env bash
# The one list of Debian packages gansynth needs beside Python, and their installation.
#   fluidsynth          libfluidsynth for the GM dataset builder, the `fluidsynth` command for `bench render`
#   fluid-soundfont-gm  FluidR3_GM.sf2, the General MIDI SoundFont the datasets and benchmarks use
#   timgm6mb-soundfont  TimGM6mb.sf2, a 6 MB SoundFont the tests build datasets with
#   python3-venv        only where the Python that makes the virtual environment lacks venv/ensurepip
# Installs what is missing with apt-get when run as root; otherwise prints one line naming the
# command to run and exits 1. `make test`, `make demo` and .ci/run call it; PYTHON names the Python.
set -euo pipefail
PACKAGES=(fluidsynth fluid-soundfont-gm timgm6mb-soundfont)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
else
  missing=("${PACKAGES[@]}")
fi
if ! "${PYTHON:-python3}" -c "import venv, ensurepip" >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "gansynth: missing system packages: ${missing[*]} (Debian names); install them with this system's package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "gansynth: missing system packages; run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

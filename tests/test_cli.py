from __future__ import annotations

import subprocess
import sys

import gansynth
from gansynth.cli import main


def test_version_and_help(capsys) -> None:
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out
    result = subprocess.run([sys.executable, "-m", "gansynth", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"gansynth {gansynth.__version__}"


def test_bench_spectral_prints_ratio(capsys) -> None:
    assert main(["bench", "spectral", "--batch", "2", "--repeats", "1", "--layout", "base", "--quality"]) == 0
    out = capsys.readouterr().out
    assert "notes/s" in out
    ratio_line = [line for line in out.splitlines() if "ratio" in line][0]
    assert float(ratio_line.split(":")[1].strip().rstrip("x")) > 0
    for name in ("phase", "if"):
        snr_line = [line for line in out.splitlines() if line.strip().startswith(f"{name} ") and "SNR" in line][0]
        assert all(float(v) >= 60.0 for v in snr_line.split(":")[1].split())

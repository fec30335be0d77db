"""The generator's precision option: bf16 against fp32 on the shipped model, the float32 inverse
transform, the refusal of unknown precisions, and `--precision` on the command line."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from gansynth.checkpoint import GeneratorModel, load_model
from gansynth.cli import build_parser, run_cli
from gansynth.errors import BadInputError
from gansynth.spectral import specgrams_to_waves
from gansynth.synth import PRECISIONS, Synthesizer, generate_audio, snr_db
from gansynth.testing import ToneModel

# one batch of notes spread over the model's range, one timbre seed each
PITCHES = [36, 48, 60, 72]
SEEDS = [0, 1, 2, 3]
MIN_SNR_DB = 30.0


@pytest.fixture(scope="module")
def model() -> GeneratorModel:
    return load_model(None)


def snr(reference: np.ndarray, audio: np.ndarray) -> float:
    """10 log10(sum(ref^2) / sum((ref - x)^2)), written out here independently of `snr_db`."""
    ref = reference.astype(np.float64)
    return 10 * math.log10(np.sum(ref**2) / np.sum((ref - audio.astype(np.float64)) ** 2))


def test_snr_db() -> None:
    ref = np.ones(100, dtype=np.float32)
    assert snr_db(ref, 0.9 * ref) == pytest.approx(20.0)  # noise 100 * 0.01 against 100
    assert snr_db(ref, ref) == math.inf


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "measured 0.2 dB (notes -0.5..1.5 dB; the previous default: -0.3 dB, STFT magnitudes 6-9 dB): "
    "the shipped generator is that sensitive to bf16 rounding, and the IF -> phase sum adds drift; "
    "see docs/usage.md, 'Precision'"))
def test_bf16_notes_match_fp32_notes(model: GeneratorModel) -> None:
    ref = np.stack(Synthesizer(model, precision="fp32").notes(PITCHES, SEEDS))
    low = np.stack(Synthesizer(model, precision="bf16").notes(PITCHES, SEEDS))
    assert low.shape == ref.shape and low.dtype == np.float32
    assert snr(ref, low) >= MIN_SNR_DB


def test_bf16_runs_the_generator_in_bf16(model: GeneratorModel) -> None:
    z = torch.stack([Synthesizer(model).latent(s) for s in SEEDS])
    pitch = torch.tensor(PITCHES)
    ref = generate_audio(model, z, pitch, "fp32")
    low = generate_audio(model, z, pitch, "bf16")
    assert low.dtype == torch.float32 and low.shape == ref.shape
    assert torch.isfinite(low).all()
    assert not torch.equal(low, ref)  # the option takes effect


class FixedSpectrograms:
    """A spectral note model whose 'generator' returns fixed spectrograms: only the inverse
    transform is left for a precision to change."""

    def __init__(self, model: GeneratorModel, specgrams: torch.Tensor) -> None:
        self.spectral = model.spectral
        self.sample_rate, self.note_length = model.sample_rate, model.note_length
        self.latent_dim, self.pitch_min, self.pitch_max = model.latent_dim, model.pitch_min, model.pitch_max
        self.specgrams = specgrams  # (B, 2, frames, bins) float32

    def generate_specgrams(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        return self.specgrams[: z.shape[0]]

    def generate(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        return specgrams_to_waves(self.generate_specgrams(z, pitch), self.spectral)

    def flops_per_note(self) -> int:
        return 0


def test_bf16_keeps_the_inverse_transform_in_float32(model: GeneratorModel) -> None:
    z = torch.stack([Synthesizer(model).latent(s) for s in SEEDS[:2]])
    pitch = torch.tensor(PITCHES[:2])
    fixed = FixedSpectrograms(model, model.generate_specgrams(z, pitch))
    ref = generate_audio(fixed, z, pitch, "fp32")
    # under bf16 autocast the mel -> linear products would be bf16 (about 15 dB SNR): the same
    # spectrograms must give the same samples
    assert torch.equal(generate_audio(fixed, z, pitch, "bf16"), ref)


@pytest.mark.parametrize("bad", ["fp16", "BF16", "", None, 16])
def test_unknown_precision_is_refused(bad: object) -> None:
    with pytest.raises(BadInputError, match=r"precision .* is not one of fp32, bf16"):
        Synthesizer(ToneModel(note_length=16000), precision=bad)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match=f"precision {bad!r}"):
        generate_audio(ToneModel(note_length=16000), torch.zeros(1, 16), torch.tensor([60]),
                       bad)  # type: ignore[arg-type]


def test_load_checks_the_precision_before_reading_the_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="precision 'half'"):
        Synthesizer.load(tmp_path / "missing.pt", precision="half")


def test_cli_precision_choices_are_the_library_ones() -> None:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("note", "interpolate", "render"):
        action = next(a for a in subparsers.choices[command]._actions if "--precision" in a.option_strings)
        assert tuple(action.choices) == PRECISIONS and action.default == "fp32"  # type: ignore[arg-type]


def test_cli_refuses_an_unknown_precision_in_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "note.wav"
    code = run_cli(["note", "--pitch", "60", "--precision", "fp16", "-o", str(out)],
                   ToneModel(note_length=16000))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "fp16" in err and "bf16" in err
    assert not out.exists()


def test_note_command_with_bf16_writes_the_bf16_note(model: GeneratorModel, tmp_path: Path) -> None:
    out = tmp_path / "note_bf16.wav"
    assert run_cli(["note", "--pitch", "60", "--seed", "3", "--precision", "bf16", "-o", str(out)]) == 0
    audio, rate = sf.read(str(out), dtype="float32")
    bf16 = Synthesizer(model, precision="bf16").note(60, seed=3)
    fp32 = Synthesizer(model, precision="fp32").note(60, seed=3)
    assert rate == model.sample_rate and audio.shape == bf16.shape
    lsb = 1 / 32768  # the file is 16-bit PCM; the note peaks under -1 dBFS, so it is not lowered
    np.testing.assert_allclose(audio, bf16, atol=lsb)
    assert np.max(np.abs(audio - fp32)) > 10 * lsb  # it is the bf16 note, not the fp32 one

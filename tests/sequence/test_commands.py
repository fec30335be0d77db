"""The CLI end to end through `gansynth.cli.main`: compose, train-sequence (and resume),
evaluate-sequence, corpus build-music21, and bad input -> one line, exit 2, no output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from symusic import Score

from gansynth.cli import main
from gansynth.score import Note, score_from_midi
from gansynth.sequence import DEFAULT_MODEL
from gansynth.sequence.export import load_sequence_model
from gansynth.sequence.sampling import SamplingOptions
from gansynth.sequence.tokenizer import EventTokenizer

from .test_corpus import make_corpus

REPO = Path(__file__).resolve().parents[2]


def _notes(path: Path) -> int:
    return Score(str(path)).note_num()


def test_compose_writes_midi_that_parses_back(tiny_model_file: Path, tmp_path: Path,
                                              example_midi: list[Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new.mid"
    assert main(["compose", "--model", str(tiny_model_file), "--seconds", "5", "--seed", "1",
                 "-o", str(out)]) == 0
    written = score_from_midi(out)
    assert _notes(out) > 0 and written.end_s <= 5.0 + 1.0
    assert f"wrote {out}: {len(written.notes)} notes" in capsys.readouterr().out

    cont = tmp_path / "cont.mid"
    assert main(["compose", "--model", str(tiny_model_file), "--primer", str(example_midi[0]),
                 "--seconds", "4", "--seed", "1", "--top-p", "0.9", "-o", str(cont)]) == 0
    primer = score_from_midi(example_midi[0])
    continued = score_from_midi(cont)
    assert len(continued.notes) > len(primer.notes) and continued.end_s > primer.end_s



@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="default model not trained yet")
def test_compose_with_the_shipped_default_model(tmp_path: Path) -> None:
    shipped = load_sequence_model(DEFAULT_MODEL)
    m = shipped.metrics  # measured at export on the held-out split
    assert m["val_perplexity"] < m["bigram_perplexity"] < m["unigram_perplexity"]
    out = tmp_path / "default.mid"
    assert main(["compose", "--seconds", "10", "--seed", "0", "--num", "3", "-o", str(out)]) == 0
    for i in range(3):
        score = score_from_midi(tmp_path / f"default_{i}.mid")
        assert score.notes and score.notes[-1].start_s < 10.0 and score.end_s <= 11.0


def _assert_one_line_error(capsys: pytest.CaptureFixture[str], text: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("gansynth: error: ") and "\n" not in err and text in err, err


def test_bad_input_is_one_error_exit_2_and_no_output(tiny_model_file: Path, tmp_path: Path,
                                                     example_midi: list[Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01 not really MIDI")
    not_a_model = tmp_path / "model.pt"
    torch.save({"something": torch.zeros(2)}, not_a_model)
    out = tmp_path / "out" / "x.mid"
    out.parent.mkdir()
    model = ["--model", str(tiny_model_file)]
    cases = [
        (["--primer", str(corrupt), *model], "corrupt.mid: not a valid MIDI file"),
        (["--primer", str(tmp_path / "missing.mid"), *model], "missing.mid: MIDI file not found"),
        (["--blend", str(example_midi[0]), str(corrupt), *model], "not a valid MIDI file"),
        (["--model", str(not_a_model)], "not a gansynth sequence model file"),
        (["--model", str(example_midi[0])], "not a gansynth sequence model file"),
        (["--model", str(tmp_path / "nope.pt")], "sequence model file not found"),
        (["--temperature", "0", *model], "temperature must be positive, got 0.0"),
        (["--top-p", "2", *model], "top_p must be in (0, 1] (1: off), got 2.0"),
        (["--model-pace", *model], "--model-pace goes with --primer"),
        (["--model-pace", "--blend", str(example_midi[0]), str(example_midi[1])], "--model-pace goes with --primer"),
    ]
    for args, message in cases:
        assert main(["compose", "--seconds", "2", "-o", str(out), *args]) == 2, args
        _assert_one_line_error(capsys, message)
        assert list(out.parent.iterdir()) == []
    assert main(["compose", *model, "-o", str(tmp_path / "out" / "x.wav")]) == 2
    _assert_one_line_error(capsys, "must end in .mid")
    assert main(["compose", *model, "-o", str(tmp_path / "none" / "x.mid")]) == 2
    _assert_one_line_error(capsys, "does not exist")
    assert main(["evaluate-sequence", "--model", str(not_a_model), "--corpus", str(tmp_path)]) == 2
    _assert_one_line_error(capsys, "not a gansynth sequence model file")


def test_train_resume_and_evaluate(tmp_path: Path, example_midi: list[Path],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    corpus = make_corpus(tmp_path / "corpus", example_midi)
    run = tmp_path / "run"
    recipe = str(REPO / "recipes" / "lstm_debug.yaml")
    args = ["train-sequence", "--config", recipe, "--out", str(run), "--quiet"]
    assert main([*args, f"data.midi_dir={corpus}"]) == 0
    printed = capsys.readouterr().out
    assert "validation perplexity: model" in printed and "unigram" in printed
    assert "corpus: " in printed and "skipped: 2 corrupt or without notes, 1 drums only" in printed
    first = load_sequence_model(run / "model.pt")
    assert first.metrics["steps"] == 2  # 16 windows / batch 8, one epoch
    assert first.metrics["val_perplexity"] < first.metrics["unigram_perplexity"] * 10
    assert (run / "config.yaml").is_file() and (run / "tokenizer.json").is_file()

    assert main([*args, "--resume", str(run / "checkpoints" / "last.ckpt"),
                 f"data.midi_dir={corpus}", "train.max_epochs=3"]) == 0
    resumed = load_sequence_model(run / "model.pt")
    assert resumed.metrics["steps"] == 6 and resumed.metrics["epochs"] == 3
    capsys.readouterr()

    assert main(["evaluate-sequence", "--model", str(run / "model.pt"), "--corpus", str(corpus),
                 "--samples", "2", "--seconds", "4"]) == 0
    report = capsys.readouterr().out
    for text in ("perplexity: LSTM", "perplexity: unigram", "perplexity: bigram",
                 "note density", "polyphony", "pitch-class TV to held-out"):
        assert text in report, report


def test_corpus_build_music21(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m21"
    assert main(["corpus", "build-music21", "--out", str(out), "--sets", "bach", "--limit", "2"]) == 0
    files = sorted((out / "bach").glob("*.mid"))
    assert len(files) == 2 and all(_notes(f) > 20 for f in files)
    assert (out / ".gitignore").read_text().strip().endswith("*")
    assert "2 MIDI files written" in capsys.readouterr().out
    assert main(["corpus", "build-music21", "--out", str(out), "--sets", "bach", "--limit", "2"]) == 0
    assert "2 already present" in capsys.readouterr().out


def test_composed_score_renders_without_a_file(tiny_model_file: Path, tmp_path: Path,
                                              example_midi: list[Path]) -> None:
    """A composed `Score` goes through `render_score` in memory; here with the analytic stand-in
    model. The only file written is the audio."""
    import soundfile as sf

    from gansynth.sequence.compose import compose, render_to_audio
    from gansynth.sequence.sampling import SamplingOptions
    from gansynth.synth import Synthesizer
    from gansynth.testing import ToneModel

    loaded = load_sequence_model(tiny_model_file)
    primer = score_from_midi(example_midi[-1])
    score = compose(loaded, SamplingOptions(seconds=2.0), primer=primer, seed=0)[0]
    assert score.path == "<tokens>" and score.end_s > primer.end_s - 0.1
    synth = Synthesizer(ToneModel())
    seconds = render_to_audio(synth, score, tmp_path / "x.wav", timbre=3)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
    audio, rate = sf.read(tmp_path / "x.wav")
    assert rate == synth.sample_rate and abs(len(audio) / rate - seconds) < 1e-6
    assert score.end_s <= seconds < score.end_s + 1.0
    assert float(abs(audio).max()) > 0.1


def test_compose_rejects_bad_sources(tiny_model_file: Path, example_midi: list[Path]) -> None:
    from gansynth.errors import BadInputError
    from gansynth.score import Note, score_from_notes
    from gansynth.sequence.compose import compose
    from gansynth.sequence.sampling import SamplingOptions

    loaded = load_sequence_model(tiny_model_file)
    options = SamplingOptions(seconds=1.0)
    drums = score_from_notes([Note(36, 100, 0.0, 0.1, is_drum=True)], path="<drums>")
    with pytest.raises(BadInputError, match="^<drums>: a primer or blend piece needs pitched notes"):
        compose(loaded, options, primer=drums)
    piece = score_from_midi(example_midi[0])
    with pytest.raises(BadInputError, match="not both"):
        compose(loaded, options, primer=piece, blend=(piece, piece))


def _default_gan_model() -> Path | None:
    try:
        from gansynth.checkpoint import DEFAULT_MODEL_PATH
    except ImportError:
        return None
    return DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else None


@pytest.mark.skipif(_default_gan_model() is None, reason="no shipped GAN model to render with")
def test_compose_render_end_to_end(tiny_model_file: Path, tmp_path: Path) -> None:
    import soundfile as sf

    out, wav = tmp_path / "x.mid", tmp_path / "x.wav"
    assert main(["compose", "--model", str(tiny_model_file), "--seconds", "3", "--seed", "0",
                 "-o", str(out), "--render", str(wav), "--timbre", "2"]) == 0
    audio, _ = sf.read(wav)
    assert _notes(out) > 0 and float(abs(audio).max()) > 0.0


def test_compose_render_bad_output_writes_nothing(tiny_model_file: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.mid"
    assert main(["compose", "--model", str(tiny_model_file), "-o", str(out),
                 "--render", str(tmp_path / "x.ogg")]) == 2
    _assert_one_line_error(capsys, "must end in .wav or .flac or .mp3")
    assert list(tmp_path.iterdir()) == []


def test_a_primer_keeps_its_tempo_and_dynamics(tiny_model_file: Path, example_midi: list[Path]) -> None:
    """A primer's beats are what the model reads: at 72 bpm the continuation is the same music as
    at 120 bpm, played at 72 bpm; a soft primer is shown to the model at the model's own level,
    so it continues like a primer at that level, and the output is scaled back to the primer's."""
    from dataclasses import replace

    import numpy as np

    from gansynth.score import Score as Piece
    from gansynth.score import score_from_notes
    from gansynth.sequence.compose import compose, model_velocity
    from gansynth.sequence.sampling import SamplingOptions

    loaded = load_sequence_model(tiny_model_file)
    notes = score_from_midi(example_midi[0]).pitched_notes()[:24]
    level = model_velocity(loaded)

    def primer(velocity: int, qpm: float) -> Piece:
        return score_from_notes([replace(n, velocity=velocity, start_s=n.start_s * 120 / qpm,
                                         end_s=n.end_s * 120 / qpm) for n in notes],
                                tempos=[(0.0, qpm)])

    options = SamplingOptions(seconds=4.0)
    fast = compose(loaded, options, primer=primer(level, 120.0), seed=3, match_pace=False)[0]
    slow = compose(loaded, options, primer=primer(level, 72.0), seed=3, match_pace=False)[0]
    assert slow.qpm == 72.0 and fast.qpm == 120.0
    # 4 s at 72 bpm are fewer beats than 4 s at 120 bpm: the slow piece is the start of the fast one
    count = len(slow.notes)
    assert len(primer(level, 72.0).notes) < count < len(fast.notes)
    assert [n.pitch for n in slow.notes] == [n.pitch for n in fast.notes[:count]]
    assert np.allclose([n.start_s for n in slow.notes], [n.start_s * 120 / 72 for n in fast.notes[:count]])
    assert 3.0 < max(n.start_s for n in slow.notes) - primer(level, 72.0).end_s <= 4.0

    soft = compose(loaded, options, primer=primer(40, 120.0), seed=3, match_pace=False)[0]
    assert [(n.pitch, n.start_s) for n in soft.notes] == [(n.pitch, n.start_s) for n in fast.notes]
    assert np.median([n.velocity for n in soft.notes]) < np.median([n.velocity for n in fast.notes]) * 0.7


def test_pace_matching_shows_the_primer_at_another_metrical_level(tokenizer: EventTokenizer,
                                                                  example_midi: list[Path]) -> None:
    """At level 1/2 the model reads each of the primer's beats as half a beat: the same tokens as
    the primer played twice as fast at its tempo; the seconds and the output tempo stay the
    primer's. A primer with one onset time has no pace to match."""
    from dataclasses import replace

    from gansynth.score import score_from_notes
    from gansynth.sequence.compose import _at_level, choose_pace

    piece = score_from_notes(score_from_midi(example_midi[0]).pitched_notes()[:24], tempos=[(0.0, 90.0)])
    halved = _at_level(piece, 0.5)
    assert halved.qpm == 45.0 and halved.notes == piece.notes
    twice_as_fast = score_from_notes([replace(n, start_s=n.start_s / 2, end_s=n.end_s / 2)
                                      for n in piece.notes], tempos=[(0.0, 90.0)])
    assert tokenizer.encode(halved) == tokenizer.encode(twice_as_fast)
    loaded = load_sequence_model(DEFAULT_MODEL)
    chord = score_from_notes([replace(n, start_s=0.0, end_s=1.0) for n in piece.notes[:3]])
    assert choose_pace(loaded, SamplingOptions(seconds=4.0), chord) == 1.0
    # sixteenth notes at 180 bpm: the model keeps their pace reading each beat as two (level 2);
    # but 1,500 s at level 2 would be 4,500 s of music at 120 bpm, over MAX_SECONDS: not tried
    step = 60 / 180 / 4
    run = score_from_notes([Note(60 + (0, 2, 4, 5, 7, 9, 11, 12)[i % 8], 90, i * step, (i + 1) * step)
                            for i in range(64)], tempos=[(0.0, 180.0)])
    assert choose_pace(loaded, SamplingOptions(seconds=4.0), run) == 2.0
    assert choose_pace(loaded, SamplingOptions(seconds=1500.0), run) != 2.0


def test_a_quarter_note_primer_is_continued_at_its_pace() -> None:
    """The shipped LSTM continues a chorale in plain quarter notes with eighths (median gap half
    the primer's); with pace matching it is shown the primer at level 1/2 and the continuation's
    median gap comes nearer the primer's, while the output keeps the primer's tempo and notes."""
    import math

    import numpy as np

    from gansynth.score import median_onset_gap
    from gansynth.sequence.compose import choose_pace, compose

    loaded = load_sequence_model(DEFAULT_MODEL)
    primer = score_from_midi(REPO / "data" / "midi" / "chorale_bwv10_7.mid")
    options = SamplingOptions(seconds=15.0)
    gap = median_onset_gap(primer.pitched_notes())

    def ratio(match_pace: bool) -> float:
        scores = compose(loaded, options, primer=primer, num=8, seed=0, match_pace=match_pace)
        assert all(s.qpm == primer.qpm for s in scores)
        onsets = sorted({round(n.start_s, 3) for n in primer.pitched_notes()})
        assert sorted({round(n.start_s, 3) for n in scores[0].notes if n.start_s < primer.end_s - 1e-6}) == onsets
        end = primer.end_s - 1e-6
        return float(np.nanmedian([median_onset_gap([n for n in s.notes if n.start_s >= end])
                                   for s in scores])) / gap

    assert choose_pace(loaded, options, primer) == 0.5
    assert abs(math.log(ratio(True))) < abs(math.log(ratio(False)))

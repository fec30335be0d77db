"""The accompaniment model: parts, the network, training, the `accompany` API and CLI, and the
fit figures with their baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.cli import main
from gansynth.config import (
    AccompanimentConfig,
    AccompanimentDataConfig,
    AccompanimentExperimentConfig,
    RollConfig,
    SequenceTrainConfig,
)
from gansynth.errors import BadInputError
from gansynth.score import Note, score_from_midi, score_from_notes, score_to_midi
from gansynth.sequence.acc_evaluation import (
    block_chords,
    estimate_key,
    fit_figures,
    random_in_key,
)
from gansynth.sequence.acc_export import load_accompaniment
from gansynth.sequence.acc_train import build_accompaniment_corpus, train_accompaniment
from gansynth.sequence.accompaniment import AccompanimentNet, accompaniment_loss
from gansynth.sequence.accompany import accompany, evaluate_accompaniment, track_voices
from gansynth.sequence.parts import (
    CHOIR_PROGRAM,
    cut_voices,
    family_index,
    piece_parts,
    resolve_style,
)
from gansynth.sequence.roll import CONTINUE, REST

REPO = Path(__file__).resolve().parents[2]
ROLL = RollConfig(voices=3)
TINY = AccompanimentExperimentConfig(
    model=AccompanimentConfig(embedding_dim=8, encoder_hidden=8, decoder_hidden=16, dropout=0.0),
    train=SequenceTrainConfig(batch_size=4, max_epochs=2, num_threads=1, log_every_n_steps=1,
                              num_samples=1))
C_MAJOR_SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def _four_parts(path: Path, shift: int = 0, qpm: float = 120.0) -> Path:
    """A small four-part piece: a scale in the top part over held chord tones, vocal track names."""
    beat = 60.0 / qpm
    notes = []
    for i, pitch in enumerate(C_MAJOR_SCALE * 2):
        notes.append(Note(pitch + shift, 90, i * beat, (i + 1) * beat, track=0))
        for track, low in ((1, 55), (2, 48), (3, 36)):
            notes.append(Note(low + (i % 3) * 2 + shift, 80, i * beat, (i + 1) * beat, track=track))
    names = {0: "Soprano", 1: "Alto", 2: "Tenor", 3: "Bass"}
    score_to_midi(score_from_notes(notes, path="<test>", track_names=names, tempos=[(0.0, qpm)]), path)
    return path


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("acc_corpus")
    (root / "bach").mkdir()
    for p in sorted((REPO / "data" / "midi").glob("chorale_*.mid")):
        (root / "bach" / p.name).write_bytes(p.read_bytes())
    for k in range(3):
        _four_parts(root / "bach" / f"scale_{k}.mid", shift=k)
    return root


@pytest.fixture(scope="module")
def model_file(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = AccompanimentExperimentConfig(
        model=TINY.model, train=TINY.train,
        data=AccompanimentDataConfig(midi_dir=str(corpus_dir), styles=("bach",), valid_fraction=0.3))
    run = tmp_path_factory.mktemp("acc_run")
    result = train_accompaniment(config, run, progress=False)
    assert sorted(p.name for p in (run / "samples").glob("*.mid")) == [
        "epoch_0001_chorale.mid", "epoch_0002_chorale.mid"]
    return result.model_path


def test_parts_rank_melody_and_voices(tmp_path: Path) -> None:
    score = score_from_midi(_four_parts(tmp_path / "a.mid"))
    parts = piece_parts(score, ROLL)
    assert parts is not None and parts.melody_track == 0
    assert list(parts.programs) == [CHOIR_PROGRAM] * 3  # vocal names at program 0 count as a choir
    onsets = [int(np.nonzero(parts.accompaniment[:, v] >= 2)[0].size) for v in range(3)]
    assert onsets == [16, 16, 16]
    first = [int(parts.accompaniment[0, v]) - 2 + ROLL.pitch_low for v in range(3)]
    assert first == [55, 48, 36]  # top to bottom
    assert int(parts.melody[0]) - 2 + ROLL.pitch_low == 60
    one = score_from_notes([Note(60, 90, 0.0, 1.0)])
    assert piece_parts(one, ROLL) is None
    assert family_index(40) == family_index(42) != family_index(32)


def test_cut_voices_clears_notes_carried_into_a_segment() -> None:
    tokens = np.array([REST, 5, CONTINUE, CONTINUE, CONTINUE, 7, CONTINUE, REST])
    cut = cut_voices(tokens, 4, 2)
    assert cut.tolist() == [[REST, 5, CONTINUE, CONTINUE], [REST, REST, REST, 7], [REST, 7, CONTINUE, REST]]


def test_track_voices_spread_and_double() -> None:
    assert track_voices(1, 3) == [2]
    assert track_voices(2, 3) == [0, 2]
    assert track_voices(3, 3) == [0, 1, 2]
    assert track_voices(5, 3) == [0, 1, 2, 2, 1]


def test_network_generates_valid_voices_and_learns() -> None:
    torch.manual_seed(0)
    net = AccompanimentNet(ROLL.pitches, 3, 2, ROLL.steps_per_beat, TINY.model)
    melody = torch.randint(0, ROLL.pitches + 2, (2, ROLL.steps))
    style, families = torch.tensor([0, 1]), torch.tensor([[0, 1, 2], [3, 4, 5]])
    out = net.generate(melody, style, families, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == (2, ROLL.steps, 3)
    silent_before = torch.cat([torch.ones(2, 1, 3, dtype=torch.bool), out[:, :-1] == REST], dim=1)
    assert not bool(((out == CONTINUE) & silent_before).any())  # never holds a silent voice
    target = out.clone()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = float(accompaniment_loss(net(melody, target, style, families), target).detach())
    for _ in range(30):
        optimizer.zero_grad()
        loss = accompaniment_loss(net(melody, target, style, families), target)
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.5 * first
    greedy = [net.generate(melody, style, families, 0.0) for _ in range(2)]
    assert torch.equal(greedy[0], greedy[1])


def test_fit_figures_and_baselines() -> None:
    low = ROLL.pitch_low
    melody = np.zeros(32, np.int64)
    for i, p in enumerate(C_MAJOR_SCALE):
        melody[4 * i] = p - low + 2
        melody[4 * i + 1: 4 * i + 4] = CONTINUE
    assert estimate_key(np.bincount([p % 12 for p in C_MAJOR_SCALE * 3 + (67, 67, 60)], minlength=12)
                        .astype(float)) == (0, "major")
    thirds = np.zeros((32, 1), np.int64)
    thirds[:, 0] = np.where(melody >= 2, melody - 4, melody)  # a major or minor third below
    figures = fit_figures(melody, thirds, low, ROLL.steps_per_beat)
    assert figures.harmonic_fit == pytest.approx(1.0) and figures.on_beat_share == pytest.approx(1.0)
    tritone = np.where(melody >= 2, melody - 6, melody)[:, None]
    assert fit_figures(melody, tritone, low, ROLL.steps_per_beat).harmonic_fit < 0.5
    chords = block_chords(melody, 3, low, ROLL.steps_per_beat)
    assert fit_figures(melody, chords, low, ROLL.steps_per_beat).harmonic_fit >= 0.75
    rand = random_in_key(melody, 3, low, ROLL.steps_per_beat, np.random.default_rng(0))
    assert fit_figures(melody, rand, low, ROLL.steps_per_beat).in_key_share == pytest.approx(1.0)


def test_accompany_keeps_the_melody_and_tempo(model_file: Path, tmp_path: Path) -> None:
    melody_path = REPO / "data" / "midi" / "ode_to_joy.mid"
    melody = score_from_midi(melody_path)
    result = accompany(melody_path, style="chorale", instruments=[40, 41, 42, 32], seed=3,
                       model=model_file)
    assert result.programs == [40, 41, 42, 32] and result.key == "D major"
    kept = [(n.pitch, n.velocity, n.start_s, n.end_s) for n in result.score.notes if n.track == 0]
    assert kept == [(n.pitch, n.velocity, n.start_s, n.end_s) for n in melody.notes]
    assert result.score.qpm == pytest.approx(melody.qpm)
    assert [t.program for t in result.score.tracks] == [73, 40, 41, 42, 32]
    beat = 60.0 / melody.qpm
    starts = np.array([n.start_s for n in result.score.notes if n.track > 0])
    assert len(starts) and np.allclose(starts / (beat / 4), np.round(starts / (beat / 4)), atol=1e-6)
    doubled = [n.pitch for n in result.score.notes if n.track == 4]
    bass = [n.pitch for n in result.score.notes if n.track == 3]
    assert doubled == [p - 12 for p in bass]  # the 4th track doubles the bottom voice an octave down
    again = accompany(melody_path, style="bach", instruments=[40, 41, 42, 32], seed=3, model=model_file)
    assert again.score.notes == result.score.notes


def test_accompany_refuses_bad_input(model_file: Path) -> None:
    melody = REPO / "data" / "midi" / "ode_to_joy.mid"
    with pytest.raises(BadInputError, match="unknown style 'pop'; this model knows: chorale"):
        accompany(melody, style="pop", model=model_file)
    with pytest.raises(BadInputError, match="GM program"):
        accompany(melody, instruments=[40, 128], model=model_file)
    with pytest.raises(BadInputError, match="not a pitched instrument"):
        accompany(melody, instruments=[119], model=model_file)
    with pytest.raises(BadInputError, match="no track 5"):
        accompany(melody, melody_track=5, model=model_file)
    with pytest.raises(BadInputError, match="number of tracks"):
        accompany(melody, tracks=0, model=model_file)
    with pytest.raises(BadInputError):
        resolve_style("quartet", ("bach",))


def test_cli_accompany_writes_midi_or_nothing(model_file: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.mid"
    melody = str(REPO / "data" / "midi" / "ode_to_joy.mid")
    assert main(["accompany", melody, "--model", str(model_file), "--tracks", "2", "-o", str(out)]) == 0
    assert "chorale accompaniment in D major" in capsys.readouterr().out
    assert [t.program for t in score_from_midi(out).tracks] == [73, 19, 19]
    bad = tmp_path / "bad.mid"
    assert main(["accompany", melody, "--model", str(model_file), "--instruments", "40,x",
                 "-o", str(bad)]) != 0
    assert "--instruments '40,x'" in capsys.readouterr().err and not bad.exists()


def test_evaluation_arms(model_file: Path, corpus_dir: Path) -> None:
    report = evaluate_accompaniment(load_accompaniment(model_file), corpus_dir, seed=0)
    assert set(report) == {"all", "chorale"}
    arms = report["all"]
    assert set(arms) == {"corpus", "model", "block chords", "random in key"}
    assert arms["block chords"]["in_key"] == pytest.approx(1.0)
    assert arms["corpus"]["pieces"] == arms["model"]["pieces"] >= 1
    for row in arms.values():
        assert 0.0 <= row["harmonic_fit"] <= row["coverage"] <= 1.0


def test_corpus_splits_by_file_per_style(corpus_dir: Path) -> None:
    config = AccompanimentExperimentConfig(
        data=AccompanimentDataConfig(midi_dir=str(corpus_dir), styles=("bach",), valid_fraction=0.3))
    corpus = build_accompaniment_corpus(config)
    assert not set(corpus.train.names) & set(corpus.valid.names)
    assert len(corpus.train.names) + len(corpus.valid.names) == 5
    assert corpus.train.melody.shape[1:] == (ROLL.steps,)
    assert corpus.train.accompaniment.shape[1:] == (ROLL.steps, 3)
    missing = AccompanimentExperimentConfig(data=AccompanimentDataConfig(midi_dir=str(corpus_dir),
                                                                         styles=("quartets",)))
    with pytest.raises(BadInputError, match="style folder not found"):
        build_accompaniment_corpus(missing)


def test_parts_round_trip_keeps_tracks_and_instruments(tmp_path: Path) -> None:
    """A four-part score -> melody and voices with their programs -> notes again: every part comes
    back as its own track with its own instrument and notes (on the grid, which these are)."""
    from gansynth.sequence.parts import voices_to_notes

    notes = []
    for track, (low, program) in enumerate(((72, 40), (64, 41), (55, 42), (43, 32))):
        for i in range(8):
            notes.append(Note(low + i % 4, 90, i * 0.5, (i + 1) * 0.5, track=track, program=program))
    names = {0: "Violin I", 1: "Violin II", 2: "Viola", 3: "Bass"}
    path = tmp_path / "quartet.mid"
    score_to_midi(score_from_notes(notes, track_names=names, tempos=[(0.0, 120.0)]), path)
    score = score_from_midi(path)
    parts = piece_parts(score, ROLL)
    assert parts is not None and list(parts.programs) == [41, 42, 32]
    back = voices_to_notes(parts.melody, ROLL, 0, 40, 90, score.seconds)
    for v in range(3):
        back += voices_to_notes(parts.accompaniment[:, v], ROLL, v + 1, int(parts.programs[v]), 90,
                                score.seconds)
    key = sorted((n.track, n.program, n.pitch, round(n.start_s, 3), round(n.end_s, 3)) for n in back)
    assert key == sorted((n.track, n.program, n.pitch, round(n.start_s, 3), round(n.end_s, 3))
                         for n in notes)


def test_cli_accompany_renders_mp3_with_family_timbres(model_file: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from gansynth.checkpoint import DEFAULT_MODEL_PATH

    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip("the shipped GAN is not there")
    melody = tmp_path / "tune.mid"
    notes = [Note(p, 90, i * 0.5, (i + 1) * 0.5) for i, p in enumerate((67, 69, 71, 72))]
    score_to_midi(score_from_notes(notes, tempos=[(0.0, 120.0)]), melody)
    out, audio = tmp_path / "tune_acc.mid", tmp_path / "tune_acc.mp3"
    assert main(["accompany", str(melody), "--model", str(model_file), "--instruments", "40,32",
                 "-o", str(out), "--render", str(audio), "--bitrate", "96"]) == 0
    printed = capsys.readouterr().out
    assert "(MP3, 96 kbps)" in printed and "Violin (40), Acoustic Bass (32)" in printed
    import soundfile as sf

    info = sf.info(str(audio))
    assert info.samplerate == 16000 and 2.0 <= info.duration <= 6.5
    assert main(["accompany", str(melody), "--model", str(model_file), "-o", str(tmp_path / "x.mid"),
                 "--bitrate", "96"]) == 2
    assert "--bitrate goes with --render" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()

"""The sequence auto-encoder: piano-roll segments, the model, training (samples, resume), its
file, the embedding API (encode, reconstruct, blend, interpolate, random), the CLI and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.cli import main
from gansynth.config import (
    AutoencoderConfig,
    AutoencoderDataConfig,
    AutoencoderExperimentConfig,
    RollConfig,
    SequenceTrainConfig,
    config_to_dict,
)
from gansynth.errors import BadInputError, ConfigError
from gansynth.score import Note, score_from_midi, score_from_notes, score_to_midi
from gansynth.sequence import DEFAULT_AUTOENCODER, embed
from gansynth.sequence.ae_evaluation import evaluate_autoencoder, f1_by_bar
from gansynth.sequence.ae_export import export_autoencoder, load_autoencoder
from gansynth.sequence.ae_train import (
    AutoencoderLightningModule,
    SegmentSet,
    autoencoder_data,
    build_segment_corpus,
    latent_statistics,
    train_autoencoder,
)
from gansynth.sequence.autoencoder import SequenceAutoencoder, reconstruction_loss, segment_f1
from gansynth.sequence.lightning import scheduled_adamw
from gansynth.sequence.roll import (
    CONTINUE,
    HOLD,
    ONSET,
    onset_f1,
    pitch_class_histogram,
    rhythm_histogram,
    roll_from_voices,
    rolls_to_score,
    score_roll,
    segments,
    transpose,
    voices_from_roll,
    voices_from_rolls,
)
from gansynth.sequence.train import FitOutcome, fit_sequence_module, prepare_run

ROLL = RollConfig()
STEPS = 600
TINY = AutoencoderExperimentConfig(
    model=AutoencoderConfig(encoder_hidden=48, latent_dim=24, decoder_hidden=96, decoder_layers=1,
                            dropout=0.0, kl_weight=0.01, free_bits=16.0),
    data=AutoencoderDataConfig(valid_fraction=0.3, transpose=(0, 0)),
    train=SequenceTrainConfig(batch_size=8, learning_rate=3e-3, max_epochs=2, num_threads=1,
                              log_every_n_steps=1, num_samples=1))


def _example_segments(example_midi: list[Path]) -> np.ndarray:
    return np.concatenate([segments(score_roll(score_from_midi(p), ROLL), ROLL) for p in example_midi])


@pytest.fixture(scope="module")
def fitted(example_midi: list[Path]) -> tuple[SequenceAutoencoder, np.ndarray]:
    """A tiny plain auto-encoder fitted (STEPS Adam steps) to the example pieces' segments."""
    torch.manual_seed(0)
    rolls = _example_segments(example_midi)
    rolls = rolls[rolls[:, :, ONSET].any(axis=(1, 2))]
    plain = AutoencoderConfig(**{**vars(TINY.model), "variational": False})
    model = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, plain)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = torch.as_tensor(voices_from_rolls(rolls, ROLL.voices))
    for _ in range(STEPS):
        logits, _, _ = model(batch)
        loss = reconstruction_loss(logits, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), rolls


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory,
               fitted: tuple[SequenceAutoencoder, np.ndarray]) -> Path:
    model, rolls = fitted
    path = tmp_path_factory.mktemp("ae") / "tiny_ae.pt"
    mean, std = latent_statistics(model, voices_from_rolls(rolls, ROLL.voices))
    plain = AutoencoderExperimentConfig(roll=ROLL, model=AutoencoderConfig(**{**vars(TINY.model), "variational": False}))
    export_autoencoder(path, model, plain, mean, std, {"valid_f1": 1.0})
    return path


# --- rolls -----------------------------------------------------------------------------------

def test_a_roll_plays_back_as_its_notes_and_ignores_tempo(example_midi: list[Path], tmp_path: Path) -> None:
    score = score_from_midi(example_midi[0])
    rolls = segments(score_roll(score, ROLL), ROLL)
    back = rolls_to_score(rolls, ROLL, qpm=score.qpm)
    assert np.array_equal(segments(score_roll(back, ROLL), ROLL), rolls)
    # the same notes in beats at another tempo give the same roll, and the tempo is kept in MIDI
    slow = score_from_notes([Note(n.pitch, n.velocity, n.start_s * 2.0, n.end_s * 2.0)
                             for n in score.pitched_notes()], tempos=[(0.0, score.qpm / 2.0)])
    score_to_midi(slow, tmp_path / "slow.mid")
    read = score_from_midi(tmp_path / "slow.mid")
    assert read.qpm == pytest.approx(score.qpm / 2.0)
    assert np.array_equal(segments(score_roll(read, ROLL), ROLL), rolls)


def test_tempo_map_converts_seconds_and_beats() -> None:
    score = score_from_notes([Note(60, 90, 0.0, 1.0)], tempos=[(0.0, 120.0), (2.0, 60.0)])
    assert score.beats(1.0) == pytest.approx(2.0)
    assert score.beats(3.0) == pytest.approx(5.0)  # 4 beats in 2 s, then 1 beat per second
    assert score.seconds(score.beats(2.7)) == pytest.approx(2.7)
    assert score_from_notes([Note(60, 90, 0.0, 1.0)]).qpm == 120.0


def test_segments_stand_alone_and_spans_decode() -> None:
    notes = [Note(60, 90, 0.0, 0.5), Note(64, 90, 7.0, 9.0)]  # 120 qpm: the second crosses beat 16
    rolls = segments(score_roll(score_from_notes(notes), ROLL), ROLL)
    assert rolls.shape == (2, ROLL.steps, 2, ROLL.pitches)
    p64 = 64 - ROLL.pitch_low
    assert rolls[0, 56, ONSET, p64] and rolls[0, 63, HOLD, p64]
    assert not rolls[1, :, :, p64].any()  # the held note is cut at the segment's end
    decoded = rolls_to_score(rolls, ROLL, qpm=120.0)
    assert [(n.pitch, n.start_s, n.end_s) for n in decoded.notes] == [(60, 0.0, 0.5), (64, 7.0, 8.0)]


def test_onset_f1_tolerance_and_features() -> None:
    ref = np.zeros((ROLL.steps, 2, ROLL.pitches), bool)
    ref[[0, 8, 16], ONSET, [10, 12, 14]] = True
    ref[[0, 8, 16], HOLD, [10, 12, 14]] = True
    assert onset_f1(ref, ref) == (1.0, 3, 3)
    assert onset_f1(ref, np.roll(ref, 1, axis=0))[0] == 1.0
    assert onset_f1(ref, np.roll(ref, 2, axis=0))[0] == 0.0
    assert onset_f1(ref, np.roll(ref, 1, axis=2))[0] == 0.0
    assert onset_f1(ref, np.zeros_like(ref))[0] == 0.0
    pcs = pitch_class_histogram(ref, ROLL.pitch_low)
    assert pcs.sum() == pytest.approx(1.0) and np.count_nonzero(pcs) == 3
    rhythm = rhythm_histogram(ref, ROLL.steps_per_beat)
    assert rhythm.sum() == pytest.approx(1.0) and rhythm[0] == pytest.approx(0.5)  # all on the beat
    moved = transpose(ref, 200)
    assert moved[:, ONSET].any(axis=0).nonzero()[0].max() == ROLL.pitches - 1  # clamped into range
    assert transpose(ref, 3)[:, ONSET].sum() == 3


# --- model and training ----------------------------------------------------------------------

def test_generate_never_holds_a_silent_voice() -> None:
    torch.manual_seed(1)
    model = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, TINY.model).eval()
    z = torch.randn(3, TINY.model.latent_dim) * 3
    for temperature in (0.0, 2.0):
        tokens = model.generate(z, temperature, torch.Generator().manual_seed(0)).numpy()
        assert tokens.shape == (3, ROLL.steps, ROLL.voices) and tokens.max() < ROLL.pitches + 2
        holds = tokens[:, 1:] == 1
        assert not (holds & (tokens[:, :-1] == 0)).any() and not (tokens[:, 0] == 1).any()
        rolls = roll_from_voices(tokens, ROLL.pitches)
        assert not (rolls[:, :, ONSET] & ~rolls[:, :, HOLD]).any()


def test_a_non_autoregressive_decoder_writes_from_the_embedding_alone() -> None:
    """model.autoregressive false: the teacher-forced logits do not depend on the segment fed
    in, and `generate` takes, step by step, the likeliest allowed token of exactly those logits,
    so training and decoding see the same inputs."""
    torch.manual_seed(2)
    config = AutoencoderConfig(**{**vars(TINY.model), "autoregressive": False})
    model = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, config).eval()
    z = torch.randn(2, config.latent_dim) * 3
    a, b = (torch.randint(0, ROLL.pitches + 2, (2, ROLL.steps, ROLL.voices)) for _ in range(2))
    with torch.no_grad():
        logits = model.decode_logits(z, a)
        assert torch.equal(logits, model.decode_logits(z, b))
    expected = torch.zeros(2, ROLL.steps, ROLL.voices, dtype=torch.long)
    sounding = torch.zeros(2, ROLL.voices, dtype=torch.bool)
    for t in range(ROLL.steps):
        step = logits[:, t].clone()
        step[..., CONTINUE] = step[..., CONTINUE].masked_fill(~sounding, float("-inf"))
        expected[:, t] = step.argmax(dim=-1)
        sounding = expected[:, t] >= CONTINUE
    assert torch.equal(model.generate(z), expected)
    autoregressive = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, TINY.model).eval()
    with torch.no_grad():
        assert not torch.equal(autoregressive.decode_logits(z, a), autoregressive.decode_logits(z, b))


def test_the_position_input_is_seen_alike_in_training_and_decoding() -> None:
    """model.position_input: `generate`'s greedy output, fed back teacher-forced, gives logits
    whose allowed argmax is that output again (training and decoding add the same position
    embedding), and the position changes what the decoder writes."""
    torch.manual_seed(3)
    config = AutoencoderConfig(**{**vars(TINY.model), "position_input": True})
    model = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, config).eval()
    with torch.no_grad():
        model.position.normal_(0.0, 1.0)
    z = torch.randn(2, config.latent_dim) * 3
    out = model.generate(z)
    with torch.no_grad():
        logits = model.decode_logits(z, out)
    sounding = torch.zeros(2, ROLL.voices, dtype=torch.bool)
    for t in range(ROLL.steps):
        step = logits[:, t].clone()
        step[..., CONTINUE] = step[..., CONTINUE].masked_fill(~sounding, float("-inf"))
        assert torch.equal(step.argmax(dim=-1), out[:, t])
        sounding = out[:, t] >= CONTINUE
    with torch.no_grad():
        position = model.position.clone()
        model.position.zero_()
        assert not torch.equal(model.decode_logits(z, out), logits)
        model.position.copy_(position)
    plain = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, TINY.model)
    assert not hasattr(plain, "position")


def test_voices_carry_a_chorale_and_play_back(example_midi: list[Path]) -> None:
    chorale = segments(score_roll(score_from_midi(example_midi[0]), ROLL), ROLL)
    for segment in chorale:
        tokens = voices_from_roll(segment, ROLL.voices)
        assert onset_f1(segment, roll_from_voices(tokens, ROLL.pitches))[0] == 1.0
    one_voice = voices_from_roll(chorale[0], 1)
    assert onset_f1(chorale[0], roll_from_voices(one_voice, ROLL.pitches))[0] < 0.6


def test_a_fitted_autoencoder_reconstructs_its_segments(fitted: tuple[SequenceAutoencoder, np.ndarray]) -> None:
    model, rolls = fitted
    mean_f1, pooled = segment_f1(model, rolls)
    assert mean_f1 > 0.7 and pooled > 0.7
    untrained = SequenceAutoencoder(ROLL.pitches, ROLL.steps, ROLL.voices, TINY.model).eval()
    assert segment_f1(untrained, rolls)[0] < 0.2


@pytest.fixture
def corpus_dir(example_midi: list[Path], tmp_path: Path) -> Path:
    """A MIDI folder holding copies of the example pieces."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for p in example_midi:
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def _fit(config: AutoencoderExperimentConfig, run: Path, mode: str) -> tuple[Path, FitOutcome]:
    """Fit the auto-encoder module of `config` into `run`, val_loss choosing best.ckpt by `mode`."""
    out = prepare_run(run, config.train, None)
    module = AutoencoderLightningModule(config_to_dict(config))
    return out, fit_sequence_module(module, autoencoder_data(build_segment_corpus(config), config), out,
                                    config.train, None, False, monitor="val_loss", mode=mode)


def test_training_writes_samples_exports_and_resumes(corpus_dir: Path, tmp_path: Path) -> None:
    config = AutoencoderExperimentConfig(model=TINY.model, roll=ROLL, train=TINY.train,
                                         data=AutoencoderDataConfig(midi_dir=str(corpus_dir),
                                                                    valid_fraction=0.3))
    result = train_autoencoder(config, tmp_path / "run", progress=False)
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").glob("*.mid"))
    assert samples == ["epoch_0001_random_0.mid", "epoch_0001_reconstruction.mid",
                       "epoch_0002_random_0.mid", "epoch_0002_reconstruction.mid"]
    loaded = load_autoencoder(result.model_path)
    assert 0.0 <= loaded.metrics["valid_f1"] <= 1.0 and loaded.metrics["epochs"] == 2.0
    longer = AutoencoderExperimentConfig(model=config.model, roll=ROLL, data=config.data,
                                         train=SequenceTrainConfig(**{**vars(TINY.train), "max_epochs": 3,
                                                                      "precision": "bf16-mixed"}))
    resumed = train_autoencoder(longer, tmp_path / "run", resume=result.last_checkpoint, progress=False)
    assert resumed.metrics["epochs"] == 3.0 and 0.0 <= resumed.metrics["valid_f1"] <= 1.0
    with pytest.raises(ConfigError, match="train.precision"):
        SequenceTrainConfig(precision="16-mixed")
    assert (tmp_path / "run" / "samples" / "epoch_0003_random_0.mid").is_file()


def test_last_checkpoint_is_the_latest_epoch_even_when_the_best_was_earlier(
        corpus_dir: Path, tmp_path: Path) -> None:
    """checkpoints/last.ckpt (what --resume continues from) holds the final epoch, and best.ckpt
    the best one: here "best" is the highest held-out loss, the first epoch's."""
    config = AutoencoderExperimentConfig(model=TINY.model, roll=ROLL,
                                         train=SequenceTrainConfig(**{**vars(TINY.train), "max_epochs": 3}),
                                         data=AutoencoderDataConfig(midi_dir=str(corpus_dir), valid_fraction=0.3))
    out, fit = _fit(config, tmp_path / "run", mode="max")
    last, best = (torch.load(out / "checkpoints" / name, map_location="cpu", weights_only=False)
                  for name in ("last.ckpt", "best.ckpt"))
    assert last["global_step"] == fit.steps and last["epoch"] == 2
    assert best["global_step"] < fit.steps


def test_the_learning_rate_patience_is_data() -> None:
    optimizer = scheduled_adamw([torch.nn.Parameter(torch.zeros(1))], SequenceTrainConfig(lr_patience=7), 100)
    assert optimizer["lr_scheduler"]["scheduler"].patience == 7
    plain = scheduled_adamw([torch.nn.Parameter(torch.zeros(1))], TINY.train, 100)
    assert plain["lr_scheduler"]["scheduler"].patience == 2
    with pytest.raises(ConfigError, match="lr_patience"):
        SequenceTrainConfig(lr_patience=-1)


def test_the_cosine_schedule_falls_from_the_rate_to_its_final_share_over_the_run() -> None:
    train = SequenceTrainConfig(learning_rate=0.01, lr_schedule="cosine", lr_final=0.05)
    setup = scheduled_adamw([torch.nn.Parameter(torch.zeros(1))], train, 40)
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert setup["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(50):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.01)
    assert rates[20] == pytest.approx(0.01 * (0.05 + 0.95 * 0.5))
    assert rates[40] == pytest.approx(0.0005) and rates[49] == pytest.approx(0.0005)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    with pytest.raises(ConfigError, match="lr_schedule"):
        SequenceTrainConfig(lr_schedule="linear")
    with pytest.raises(ConfigError, match="lr_final"):
        SequenceTrainConfig(lr_final=1.5)


def test_a_cosine_run_ends_at_the_final_rate(corpus_dir: Path, tmp_path: Path) -> None:
    """The horizon is the run's own step count (max_epochs), so the last step is at lr_final."""
    train = SequenceTrainConfig(**{**vars(TINY.train), "lr_schedule": "cosine", "lr_final": 0.1,
                                   "num_samples": 0})
    config = AutoencoderExperimentConfig(model=TINY.model, roll=ROLL, train=train,
                                         data=AutoencoderDataConfig(midi_dir=str(corpus_dir), valid_fraction=0.3))
    out, fit = _fit(config, tmp_path / "run", mode="min")
    assert fit.steps > 2
    last = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["lr_schedulers"][0]["last_epoch"] == fit.steps
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(train.learning_rate * 0.1)


def test_transposed_draws_stay_in_range(fitted: tuple[SequenceAutoencoder, np.ndarray]) -> None:
    _, rolls = fitted
    tokens = voices_from_rolls(rolls, ROLL.voices)
    data = SegmentSet(tokens, ROLL.pitches, transpose_range=(-30, 30), seed=0)
    moved = [data[i].numpy() for i in range(len(rolls))]
    assert any(not np.array_equal(m, r) for m, r in zip(moved, tokens, strict=True))
    for m, r in zip(moved, tokens, strict=True):
        assert np.array_equal(m >= 2, r >= 2) and m.max() < ROLL.pitches + 2
        shift = set((m - r)[r >= 2].tolist())
        assert len(shift) <= 1  # one transposition for the whole segment


# --- file and embedding API ------------------------------------------------------------------

def test_model_file_round_trip_and_refusals(model_file: Path, tmp_path: Path) -> None:
    loaded = load_autoencoder(model_file)
    assert loaded.latent_mean.shape == (TINY.model.latent_dim,)
    payload = torch.load(model_file, weights_only=True)
    payload["latent_std"] = torch.full((TINY.model.latent_dim,), float("nan"))
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(BadInputError, match="bad.pt: latent statistics"):
        load_autoencoder(bad)
    payload["format"] = "gansynth-lstm"
    torch.save(payload, bad)
    with pytest.raises(BadInputError, match=r"sequence \(LSTM\) model file \(for compose\), not a gansynth sequence auto-encoder"):
        load_autoencoder(bad)


def test_reconstruct_blend_interpolate_and_random(model_file: Path, example_midi: list[Path]) -> None:
    loaded = load_autoencoder(model_file)
    a, b = score_from_midi(example_midi[0]), score_from_midi(example_midi[-1])
    za, zb = embed.encode(loaded, a), embed.encode(loaded, b)
    assert za.shape[1] == TINY.model.latent_dim and za.dtype == np.float32
    rebuilt = embed.reconstruct(loaded, a)
    f1 = onset_f1(np.concatenate(segments(score_roll(a, ROLL), ROLL)),
                  np.concatenate(segments(score_roll(rebuilt, ROLL), ROLL)))[0]
    assert f1 > 0.9 and rebuilt.qpm == a.qpm
    path = embed.interpolate(loaded, a, b, 4)
    assert len(path) == 4
    length = min(len(za), len(zb))
    assert path[0].notes == embed.decode(loaded, za[:length], qpm=a.qpm).notes
    assert path[-1].notes == embed.decode(loaded, zb[:length], qpm=a.qpm).notes
    weighted = embed.blend_latents([za, zb], [3.0, 1.0])
    assert np.allclose(weighted, 0.75 * za[:length] + 0.25 * zb[:length], atol=1e-6)
    assert embed.blend(loaded, [a, b]).notes == embed.decode(loaded, embed.blend_latents([za, zb]),
                                                             qpm=a.qpm).notes
    first = embed.compose_random(loaded, 3, seed=4)
    assert first.notes == embed.compose_random(loaded, 3, seed=4).notes
    assert first.end_s <= 3 * ROLL.segment_beats * 0.5 + 1e-9
    with pytest.raises(BadInputError, match="weights must be finite, >= 0 and not all 0"):
        embed.blend_latents([za, zb], [0.0, 0.0])
    with pytest.raises(BadInputError, match=r"x.npy: embeddings must be an array of shape \(segments, 24\)"):
        embed.decode(loaded, np.zeros((2, 5)), what="x.npy")
    drums = score_from_notes([Note(36, 90, 0.0, 0.5, is_drum=True)], path="<drums>")
    with pytest.raises(BadInputError, match="<drums>: no pitched notes in the auto-encoder's range"):
        embed.encode(loaded, drums)


def test_evaluation_reports_figures(model_file: Path, fitted: tuple[SequenceAutoencoder, np.ndarray]) -> None:
    loaded = load_autoencoder(model_file)
    _, rolls = fitted
    groups = np.array(["folk", "chorale"])[np.arange(len(rolls)) % 2]
    report = evaluate_autoencoder(loaded, rolls, np.arange(len(rolls)), pairs=6, steps=4, group_of=groups)
    assert report.f1_mean > 0.7 and report.pairs == 6
    assert len(report.f1_by_bar) == ROLL.segment_beats // 4
    assert all(0.0 <= f <= 1.0 for f in report.f1_by_bar)
    assert set(report.f1_by_group) == {"folk", "chorale"}
    counts = {g: c for g, (c, _, _) in report.f1_by_group.items()}
    assert counts == {"folk": (len(rolls) + 1) // 2, "chorale": len(rolls) // 2}
    weighted = sum(c * mean for c, mean, _ in report.f1_by_group.values()) / len(rolls)
    assert weighted == pytest.approx(report.f1_mean)
    assert "folk (" in report.format() and "by bar of 4 beats" in report.format()
    for figures in report.features.values():
        assert 0.0 <= figures.blend_between <= 1.0 and -1.0 <= figures.interpolation_spearman <= 1.0
        assert figures.distance_pair > 0.0
    assert "reconstruction note F1 (mean over segments)" in report.format()


def test_held_out_segments_are_grouped_by_top_folder(example_midi: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    expected = {"loose.mid": "(top folder)"}
    for k, p in enumerate(example_midi):
        expected[p.name] = "bach" if k % 2 else "essen"
        (root / expected[p.name]).mkdir(parents=True, exist_ok=True)
        (root / expected[p.name] / p.name).write_bytes(p.read_bytes())
    (root / "loose.mid").write_bytes(example_midi[0].read_bytes())
    config = AutoencoderExperimentConfig(model=TINY.model, roll=ROLL, train=TINY.train,
                                         data=AutoencoderDataConfig(midi_dir=str(root), valid_fraction=0.5))
    corpus = build_segment_corpus(config)
    groups = corpus.valid_groups()
    assert groups.shape == (len(corpus.valid),) and len(groups) > 0
    assert [str(g) for g in groups] == [expected[Path(corpus.valid_names[i]).name] for i in corpus.valid_piece]


def test_f1_by_bar_scores_each_bar_on_its_own() -> None:
    reference = np.zeros((2, 16, 2, 5), bool)
    reference[:, [0, 4, 8], ONSET, 2] = True  # notes in bars 1-3 of 4 steps; bar 4 silent
    estimate = reference.copy()
    estimate[0, 4, ONSET, 2] = False  # segment 0 loses bar 2's note
    estimate[1, 9, ONSET, 2], estimate[1, 8, ONSET, 2] = True, False  # one step late: a match
    figures = f1_by_bar(reference, estimate, 4)
    assert figures[0] == 1.0 and figures[1] == 0.5 and figures[2] == 1.0
    assert np.isnan(figures[3])


# --- CLI -------------------------------------------------------------------------------------

def test_cli_encode_reconstruct_compose(model_file: Path, example_midi: list[Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    ae = ["--autoencoder", str(model_file)]
    a, b = str(example_midi[0]), str(example_midi[-1])
    assert main(["encode", a, "-o", str(tmp_path / "a.npy"), *ae]) == 0
    z = np.load(tmp_path / "a.npy")
    assert z.shape[1] == TINY.model.latent_dim
    assert main(["reconstruct", a, "-o", str(tmp_path / "a2.mid"), *ae]) == 0
    assert len(score_from_midi(tmp_path / "a2.mid").notes) > 0
    assert main(["compose", "--blend", a, b, a, "--weights", "1", "2", "1", "-o",
                 str(tmp_path / "blend.mid"), *ae, "--seed", "0"]) == 0
    assert main(["compose", "--interpolate", a, b, "--steps", "3", "-o", str(tmp_path / "ip.mid"), *ae]) == 0
    assert sorted(p.name for p in tmp_path.glob("ip_*.mid")) == ["ip_0.mid", "ip_1.mid", "ip_2.mid"]
    assert main(["compose", "--latent", "random", "--seed", "3", "-o", str(tmp_path / "r.mid"), *ae]) == 0
    assert main(["compose", "--latent", str(tmp_path / "a.npy"), "-o", str(tmp_path / "l.mid"), *ae]) == 0
    saved = [(n.pitch, n.start_s) for n in score_from_midi(tmp_path / "l.mid").notes]
    assert saved == [(n.pitch, n.start_s) for n in score_from_midi(tmp_path / "a2.mid").notes]  # both 120 qpm
    capsys.readouterr()

    out = tmp_path / "bad"
    out.mkdir()
    cases = [
        (["compose", "--blend", a, "-o", str(out / "x.mid"), *ae], "--blend needs at least 2 MIDI files"),
        (["compose", "--blend", a, b, "--weights", "1", "-o", str(out / "x.mid"), *ae], "1 weights for 2 pieces"),
        (["compose", "--latent", str(out / "none.npy"), "-o", str(out / "x.mid"), *ae], "none.npy: embedding file"),
        (["compose", "--interpolate", a, b, "--steps", "1", "-o", str(out / "x.mid"), *ae], "--steps must lie in"),
        (["compose", "--latent", "random", "--autoencoder", a, "-o", str(out / "x.mid")],
         "not a gansynth sequence auto-encoder file"),
        (["encode", a, "-o", str(out / "x.txt"), *ae], "must end in .npy"),
        (["reconstruct", str(out / "none.mid"), "-o", str(out / "x.mid"), *ae], "none.mid: MIDI file not found"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (args, err)
        assert list(out.iterdir()) == []


@pytest.mark.skipif(not DEFAULT_AUTOENCODER.is_file(), reason="default auto-encoder not trained yet")
def test_the_shipped_autoencoder_reconstructs_better_than_chance(example_midi: list[Path]) -> None:
    """Each example piece comes back from its own embeddings at least twice as well (note F1)
    as from random embeddings of the same length."""
    loaded = load_autoencoder(DEFAULT_AUTOENCODER)
    assert 0.0 < loaded.metrics["valid_f1"] <= 1.0  # measured at export on the held-out split
    roll = loaded.config.roll
    for path in example_midi:
        score = score_from_midi(path)
        original = segments(score_roll(score, roll), roll)
        rebuilt = segments(score_roll(embed.reconstruct(loaded, score), roll), roll)
        chance = segments(score_roll(embed.compose_random(loaded, len(original), seed=1, qpm=score.qpm),
                                     roll), roll)
        f1 = [onset_f1(np.concatenate(original[: len(x)]), np.concatenate(x[: len(original)]))[0]
              for x in (rebuilt, chance)]
        assert f1[0] > 2.0 * f1[1] and f1[0] > 0.05, (path, f1)

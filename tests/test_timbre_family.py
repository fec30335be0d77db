"""`timbre_by="family"`: probe pitches, the classifier's choice among candidate seeds (checked
against an independent computation), overrides and fallbacks, bad values, the CLI, and the
held-out evaluation. The shipped note classifier judges the notes of the analytic ToneModel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.classifier import load_classifier
from gansynth.cli import run_cli
from gansynth.errors import BadInputError
from gansynth.render import render_score
from gansynth.score import Note, notes_to_midi
from gansynth.synth import Synthesizer, latent_from_seed
from gansynth.testing import ToneModel
from gansynth.timbre_family import (
    evaluate_timbres,
    held_out_pitches,
    probe_pitches,
    program_family,
)

LABEL = re.compile(r"seed (\d+) \((\w+) p=([0-9.]+) at MIDI ([0-9,]+)\)")


def make_synth(model: ToneModel | None = None) -> Synthesizer:
    return Synthesizer(model or ToneModel(note_length=16000), release_s=0.1)


def family_probability(seed: int, pitches: tuple[int, ...], family: str) -> float:
    """Independent figure: the classifier's mean probability of `family` over ToneModel notes."""
    classifier = load_classifier()
    model = ToneModel(note_length=16000)
    z = latent_from_seed(seed, model.latent_dim).expand(len(pitches), -1)
    audio = model.generate(z, torch.tensor(pitches)).numpy()
    return float(classifier.classify(audio)[1][:, classifier.families.index(family)].mean())


def test_probe_and_held_out_pitches() -> None:
    assert probe_pitches(list(range(48, 73)), 24, 84) == (48, 60, 72)  # grid 48..72, spread
    assert probe_pitches([50, 55, 58], 24, 84) == (54,)  # the one grid pitch inside
    assert probe_pitches([61, 62, 65], 24, 84) == (62,)  # no grid pitch inside: the median
    assert probe_pitches([10, 30], 24, 84) == (24, 30)  # clipped to the range first
    assert held_out_pitches(36, 60) == (39, 45, 51, 57)
    assert not set(held_out_pitches(24, 84)) & set(probe_pitches(list(range(24, 85)), 24, 84))
    assert program_family(40) == "string" and program_family(73) == "flute"
    assert program_family(120) is None and program_family(128) is None  # unpitched, out of range


def test_family_mode_picks_the_candidate_the_classifier_rates_highest() -> None:
    # the classifier hears ToneModel notes at these pitches as reed (p about 0.97) or brass (about
    # 0.02), with differences between seeds that decide the choice
    notes = [Note(p, 100, 0.25 * i, 0.25 * i + 0.2, track=0, program=56)  # trumpet: brass
             for i, p in enumerate((55, 58, 62, 66, 67))]
    notes += [Note(p, 100, 0.25 * i, 0.25 * i + 0.2, track=1, program=65)  # alto sax: reed
              for i, p in enumerate((57, 60, 64, 66))]
    seed, search = 3, 4
    result = render_score(make_synth(), notes, seed=seed, timbre_by="family", family_search=search,
                          progress=False)
    changed = 0
    for track, family, probes in ((0, "brass", (60, 66)), (1, "reed", (60, 66))):
        match = LABEL.fullmatch(result.report.track_timbres[track])
        assert match, result.report.track_timbres[track]
        chosen, label_family, label_p = int(match[1]), match[2], float(match[3])
        assert label_family == family and match[4] == ",".join(map(str, probes))
        candidates = {s: family_probability(s, probes, family) for s in range(seed, seed + search)}
        assert chosen == max(candidates, key=lambda s: candidates[s])
        assert label_p == pytest.approx(candidates[chosen], abs=0.006)  # printed with 2 decimals
        assert candidates[chosen] >= candidates[seed + track]  # at least the default track seed
        assert len(set(candidates.values())) == search  # no ties: the choice is decided
        changed += chosen != seed + track
    assert changed  # the search moved at least one track off its default seed
    # the audio is that of the chosen seeds
    chosen_seeds = {t: int(LABEL.fullmatch(v)[1]) for t, v in result.report.track_timbres.items()}  # type: ignore[index]
    plain = render_score(make_synth(), notes, timbres=chosen_seeds, progress=False)
    np.testing.assert_array_equal(result.audio, plain.audio)


def test_explicit_timbre_wins_and_an_unpitched_program_falls_back() -> None:
    model = ToneModel(note_length=16000)
    notes = [Note(60, 100, 0.0, 0.5, track=0, program=40), Note(64, 100, 0.0, 0.5, track=1, program=120)]
    synth = make_synth(model)
    result = synth.render_score(notes, seed=10, timbre_by="family", family_search=4,
                                timbres={0: 5}, progress=False)
    assert result.report.track_timbres[0] == "seed 5"
    assert result.report.track_timbres[1].startswith("seed 11 (program 120 has no pitched family")
    assert model.notes_generated == result.report.generated == 2  # no probe notes at all


def test_the_chosen_seeds_probe_notes_are_reused_by_the_render() -> None:
    notes = [Note(60, 100, 0.0, 0.5, track=0, program=0), Note(60, 80, 1.0, 1.5, track=0, program=0)]
    model = ToneModel(note_length=16000)
    result = render_score(make_synth(model), notes, timbre_by="family", family_search=3,
                          progress=False)
    assert "at MIDI 60)" in result.report.track_timbres[0]
    assert model.notes_generated == 3  # the three candidates at the probe pitch 60, nothing more
    assert result.report.unique_pairs == 1 and result.report.generated == 0


@pytest.mark.parametrize(("options", "message"), [
    ({"timbre_by": "family", "family_search": 0}, r"family search \(candidate seeds\) must lie in 1\.\.4096, got 0"),
    ({"timbre_by": "instrument"}, r"timbre_by 'instrument' is not one of track, program, family"),
    ({"timbre_by": "family", "family_search": 2.5}, r"family search .* must be a whole number"),
])
def test_bad_values_are_one_clear_error(options: dict[str, object], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        render_score(make_synth(), [Note(60, 100, 0.0, 0.5)], progress=False, **options)  # type: ignore[arg-type]


def test_render_cli_timbre_by_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    midi = tmp_path / "duet.mid"
    notes_to_midi([Note(60, 100, 0.0, 0.5, 0, 40), Note(64, 90, 0.5, 1.0, 0, 40),
                   Note(40, 100, 0.0, 1.0, 1, 32), Note(38, 100, 0.2, 0.3, 2, 0, True)], midi,
                  track_names={0: "violin", 1: "bass", 2: "drums"})
    out = tmp_path / "duet.wav"
    args = ["render", str(midi), "-o", str(out), "--quiet", "--timbre-by", "family",
            "--family-search", "2", "--timbre", "bass=9"]
    assert run_cli(args, ToneModel(note_length=16000)) == 0
    text = capsys.readouterr().out
    assert re.search(r"track 0: seed [01] \(string p=[0-9.]+ at MIDI 60\), track 1: seed 9\n", text), text
    assert out.is_file()
    bad = ["render", str(midi), "-o", str(tmp_path / "bad.wav"), "--timbre-by", "family",
           "--family-search", "0"]
    assert run_cli(bad, ToneModel(note_length=16000)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gansynth: error: family search (candidate seeds) must lie in 1..4096, got 0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duet.mid", "duet.wav"]


def test_evaluation_uses_held_out_pitches_and_counts_every_note() -> None:
    result = evaluate_timbres(make_synth(), load_classifier(), programs=(40, 65), seed=2, search=3,
                              ranges=((48, 60), (60, 72)))
    assert result.probes == ((48, 54, 60), (60, 66, 72)) and result.held_out == ((51, 57), (63, 69))
    assert [r.default_seed for r in result.rows] == [2, 3]
    for row in result.rows:
        assert all(2 <= s <= 4 for s in row.searched_seeds) and len(row.searched_seeds) == 2
        for accuracy in (row.default_accuracy, row.searched_accuracy):
            assert accuracy in (0.0, 0.25, 0.5, 0.75, 1.0)  # 4 held-out notes
    assert result.chance == pytest.approx(1 / 11)
    assert sum(result.probe_heard.values()) == pytest.approx(1.0)
    assert set(result.probe_heard) == set(load_classifier().families)
    with pytest.raises(BadInputError, match=r"GM program 120 .* is unpitched"):
        evaluate_timbres(make_synth(), load_classifier(), programs=(120,), search=1)
    with pytest.raises(BadInputError, match=r"evaluation range 60-63: give at least 6 semitones"):
        evaluate_timbres(make_synth(), load_classifier(), programs=(0,), search=1, ranges=((60, 63),))


def test_evaluate_timbres_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "timbres.json"
    args = ["evaluate-timbres", "--programs", "0,73", "--ranges", "60-72", "--family-search", "2",
            "--json", str(out)]
    assert run_cli(args, ToneModel(note_length=16000)) == 0
    text = capsys.readouterr().out
    assert "track range MIDI 60-72: probe pitches 60,66,72, held-out pitches 63,69" in text
    assert "overall (mean over programs)" in text and "chance (1 of 11 families): 0.091" in text
    assert "families the classifier hears in the search's probe notes: " in text
    figures = json.loads(out.read_text())
    assert [r["program"] for r in figures["rows"]] == [0, 73] and figures["search"] == 2
    assert run_cli(["evaluate-timbres", "--programs", "0,x"], ToneModel(note_length=16000)) == 2
    assert "--programs '0,x': expected comma-separated whole numbers" in capsys.readouterr().err


def test_shipped_models_find_reed_timbres_for_an_oboe() -> None:
    """The shipped GAN and classifier (docs/evaluation.md): the search reaches a reed timbre."""
    synth = Synthesizer.load(batch_size=8)
    notes = [Note(p, 100, 0.5 * i, 0.5 * i + 0.4, track=0, program=68) for i, p in enumerate((60, 63, 66))]
    result = render_score(synth, notes, timbre_by="family", family_search=4, progress=False)
    match = LABEL.fullmatch(result.report.track_timbres[0])
    assert match and match[2] == "reed" and match[4] == "60,66", result.report.track_timbres
    classifier = load_classifier()
    z = torch.stack([latent_from_seed(s, synth.model.latent_dim) for s in (0, int(match[1]))])
    audio = synth.model.generate(z.repeat_interleave(2, 0), torch.tensor([60, 66, 60, 66])).numpy()
    families = classifier.classify(audio)[1].reshape(2, 2, -1).mean(1)  # (seed 0 / searched, family)
    reed = families[:, classifier.families.index("reed")]
    assert float(match[3]) == pytest.approx(reed[1], abs=0.006)
    # at least the default seed 0's reed probability, and at least 3x chance (1 of 11 families)
    assert reed[1] >= reed[0] and reed[1] > 3 / len(classifier.families)

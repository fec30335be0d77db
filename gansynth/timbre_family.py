"""Timbres that sound like their instrument: a track's latent chosen by the note classifier.

The GAN is conditioned on pitch only, so a timbre is a latent and nothing says which latent
sounds like a violin. `render_score(..., timbre_by="family")` (gansynth.render) maps each pitched
track's GM program to its NSynth family (`gansynth.data.gm_programs`, the GM builder's table) and
picks, among candidate latents, the one whose notes the shipped note classifier
(`gansynth.classifier`) rates most likely to be of that family:

1. probe pitches: up to `PROBE_COUNT` pitches of the grid MIDI 24, 30, ..., 84 (every
   `PROBE_STEP` semitones: C and F#) inside the track's pitch range (after octave folding, clipped
   to the model's and the classifier's ranges), spread over it; a track whose range holds no grid
   pitch is probed at its median pitch. The grid lets tracks of overlapping ranges share probe
   notes.
2. candidates: the seeds seed, seed + 1, ..., seed + search - 1; the raw model notes of each at the
   probe pitches are generated in batches (through the synthesizer's note cache, under the keys
   `render_score` uses, so the winner's probe notes are reused by the render) and classified.
3. the candidate with the highest mean family probability over the probe pitches wins (ties: the
   lowest seed). A `FamilySearch` caches its choices per (family, probe pitches) for its seed.

`evaluate_timbres` measures what this buys on notes the search never heard: held-out pitches
(the grid shifted by 3 semitones, never a probe), family accuracy of the default seed against the
searched latent, per GM program (`gansynth evaluate-timbres`, docs/evaluation.md).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gansynth import checks
from gansynth.classifier import SAMPLE_RATE as CLASSIFIER_RATE
from gansynth.classifier import SEGMENT, Classifier, load_classifier
from gansynth.data.gm_programs import GM_PROGRAMS
from gansynth.errors import BadInputError
from gansynth.io import resample
from gansynth.score import TrackInfo
from gansynth.synth import Synthesizer

PROBE_STEP = 6  # semitones between grid pitches (MIDI 24, 30, ... : C and F#)
PROBE_COUNT = 3  # probe pitches per track at most
DEFAULT_SEARCH = 8  # candidate seeds: 16 and 32 measured no better on held-out pitches (docs/evaluation.md)
MAX_SEARCH = 4096
DEFAULT_PROGRAMS = (0, 24, 32, 40, 41, 42, 56, 65, 68, 71, 73, 19)
# the notional tracks of the evaluation: three two-octave ranges over the shipped model's pitches
DEFAULT_EVAL_RANGES = ((36, 60), (48, 72), (60, 84))


def program_family(program: int) -> str | None:
    """The NSynth family of a GM program 0..127, or None for the unpitched ones (sound effects
    and percussion, marked in `gansynth.data.gm_programs`) and numbers outside 0..127."""
    if not 0 <= program < len(GM_PROGRAMS) or not GM_PROGRAMS[program].pitched:
        return None
    return GM_PROGRAMS[program].family


def seed_note_key(seed: int) -> Hashable:
    """The note-cache key `render_score` gives the latent of timbre seed `seed` (no drift)."""
    return (("seed", seed), 0, 0)


def probe_pitches(pitches: Sequence[int], low: int, high: int,
                  count: int = PROBE_COUNT) -> tuple[int, ...]:
    """The probe pitches of a track playing `pitches` (MIDI, non-empty), clipped to [low, high]:
    up to `count` grid pitches (multiples of `PROBE_STEP`) inside the track's range, spread evenly
    over the grid pitches there, or the track's median pitch when its range holds none."""
    if not pitches:
        raise ValueError("probe_pitches: a track without pitches has nothing to probe")
    clipped = sorted(min(max(int(p), low), high) for p in pitches)
    grid = [p for p in range(clipped[0], clipped[-1] + 1) if p % PROBE_STEP == 0]
    if not grid:
        return (clipped[len(clipped) // 2],)
    if len(grid) <= count:
        return tuple(grid)
    return tuple(grid[i] for i in np.round(np.linspace(0, len(grid) - 1, count)).astype(int))


def held_out_pitches(low: int, high: int) -> tuple[int, ...]:
    """Pitches in [low, high] halfway between probe grid pitches (p % PROBE_STEP == 3), so that no
    probe pitch of a track spanning the range is among them."""
    return tuple(p for p in range(low, high + 1) if p % PROBE_STEP == PROBE_STEP // 2)


def note_family_probabilities(synth: Synthesizer, classifier: Classifier,
                              notes: Sequence[tuple[int, int]]) -> np.ndarray:
    """Classifier family probabilities of the raw model notes of (timbre seed, MIDI pitch) pairs:
    (len(notes), len(classifier.families)) float64. The notes go through `synth.generate` in its
    batches and cache (keys: `seed_note_key`); only the part the classifier hears (its first
    1.12 s) is kept and, at another model rate, resampled to 16 kHz."""
    rate = synth.model_rate
    heard = math.ceil(SEGMENT * rate / CLASSIFIER_RATE)  # samples at the model rate
    step = synth.batch_size * 8  # bounds the audio held at once
    probs = [np.zeros((0, len(classifier.families)))]
    for start in range(0, len(notes), step):
        chunk = notes[start:start + step]
        audio = synth.generate([seed_note_key(s) for s, _ in chunk], [synth.latent(s) for s, _ in chunk],
                               [p for _, p in chunk])
        waves = resample(np.stack([a[:heard] for a in audio]), rate, CLASSIFIER_RATE)  # (N, samples)
        probs.append(classifier.classify(waves)[1])
    return np.concatenate(probs)


def family_probabilities(synth: Synthesizer, classifier: Classifier, seeds: Sequence[int],
                         pitches: Sequence[int]) -> np.ndarray:
    """`note_family_probabilities` of every seed at every pitch: (len(seeds), len(pitches),
    len(classifier.families)) float64."""
    notes = [(s, int(p)) for s in seeds for p in pitches]
    return note_family_probabilities(synth, classifier, notes).reshape(len(seeds), len(pitches), -1)


@dataclass(frozen=True)
class FamilyChoice:
    """The latent a search chose: its seed, the family asked for, and the mean probability of
    that family the classifier gave its notes at the probe pitches."""

    seed: int
    family: str
    probability: float
    probes: tuple[int, ...]

    @property
    def label(self) -> str:
        return (f"seed {self.seed} ({self.family} p={self.probability:.2f} at MIDI "
                f"{','.join(map(str, self.probes))})")


@dataclass
class FamilySearch:
    """Chooses latents by family for one render (or one evaluation); see the module doc.

    classifier: None loads the shipped one on first use. Choices are cached per (family, probe
    pitches), the classified probe notes per probe pitches; `probe_notes` counts the probe notes
    classified (the synthesizer's cache may have held some of them)."""

    synth: Synthesizer
    classifier: Classifier | None = None
    seed: int = 0
    search: int = DEFAULT_SEARCH
    probe_notes: int = 0
    _probs: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict, repr=False)
    _choices: dict[tuple[str, tuple[int, ...]], FamilyChoice] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.seed = checks.seed(self.seed)
        self.search = check_search(self.search)
        checks.seed(self.seed + self.search - 1, "seed + family search - 1")

    def _classifier(self) -> Classifier:
        if self.classifier is None:
            self.classifier = load_classifier()
        return self.classifier

    @property
    def pitch_range(self) -> tuple[int, int]:
        """MIDI pitches that both the model and the classifier know."""
        model, classifier = self.synth.model, self._classifier()
        low, high = max(model.pitch_min, classifier.pitch_min), min(model.pitch_max, classifier.pitch_max)
        if low > high:
            raise BadInputError(f"the model's pitches {model.pitch_min}..{model.pitch_max} and the "
                                f"classifier's {classifier.pitch_min}..{classifier.pitch_max} do not "
                                "overlap; the family search cannot probe")
        return low, high

    def knows(self, family: str) -> bool:
        return family in self._classifier().families

    def probabilities(self, probes: tuple[int, ...]) -> np.ndarray:
        """(search, len(probes), families) family probabilities of the candidates' notes."""
        if probes not in self._probs:
            seeds = range(self.seed, self.seed + self.search)
            self._probs[probes] = family_probabilities(self.synth, self._classifier(), seeds, probes)
            self.probe_notes += self.search * len(probes)
        return self._probs[probes]

    def heard_shares(self) -> dict[str, float]:
        """family -> share of the distinct probe notes classified so far whose most likely
        family it is (which families the candidates reach at all), largest first."""
        heard: dict[tuple[int, int], int] = {}
        for probes, probs in self._probs.items():
            for i, row in enumerate(probs.argmax(-1)):  # (probes,) per candidate
                for pitch, family in zip(probes, row, strict=True):
                    heard[self.seed + i, pitch] = int(family)
        counts = np.bincount(list(heard.values()), minlength=len(self._classifier().families))
        shares = {f: c / max(len(heard), 1) for f, c in zip(self._classifier().families, counts, strict=True)}
        return dict(sorted(shares.items(), key=lambda kv: -kv[1]))

    def choose(self, family: str, pitches: Sequence[int]) -> FamilyChoice:
        """The candidate whose notes at the probe pitches of `pitches` are most likely `family`."""
        if not self.knows(family):
            raise BadInputError(f"the note classifier has no family {family!r}; it knows "
                                f"{', '.join(self._classifier().families)}")
        probes = probe_pitches(pitches, *self.pitch_range)
        key = (family, probes)
        if key not in self._choices:
            column = self._classifier().families.index(family)
            score = self.probabilities(probes)[:, :, column].mean(axis=1)  # (search,)
            best = int(np.argmax(score))  # the first maximum: the lowest seed
            self._choices[key] = FamilyChoice(self.seed + best, family, float(score[best]), probes)
        return self._choices[key]


def check_search(search: int) -> int:
    """`search` if it is a whole number of candidate seeds in 1..MAX_SEARCH, else BadInputError."""
    return checks.whole(search, "family search (candidate seeds)", 1, MAX_SEARCH)


def family_timbres(search: FamilySearch, tracks: Sequence[TrackInfo],
                   track_pitches: Mapping[int, Sequence[int]]) -> dict[int, tuple[int, str]]:
    """track index -> (timbre seed, report label) for every track in `track_pitches` (its rendered
    MIDI pitches): the family search's choice, or the track seed `search.seed + index` for a
    program without a pitched family (or one the classifier does not know)."""
    out: dict[int, tuple[int, str]] = {}
    for track in tracks:
        pitches = track_pitches.get(track.index)
        if not pitches:
            continue
        family = program_family(track.program)
        fallback = search.seed + track.index
        if family is None:
            out[track.index] = (fallback, f"seed {fallback} (program {track.program} has no "
                                          "pitched family: the track seed)")
        elif not search.knows(family):
            out[track.index] = (fallback, f"seed {fallback} (the classifier has no family "
                                          f"{family!r}: the track seed)")
        else:
            choice = search.choose(family, pitches)
            out[track.index] = (choice.seed, choice.label)
    return out


# ---------------------------------------------------------------------------------------------
# measurement: family accuracy on held-out pitches, default seed vs searched latent


@dataclass(frozen=True)
class ProgramResult:
    """One GM program over every evaluation range: its family, and for the default seed and the
    searched latents (one per range) the share of held-out notes the classifier assigns to that
    family (accuracy) and its mean probability."""

    program: int
    name: str
    family: str
    default_seed: int
    default_accuracy: float
    default_probability: float
    searched_seeds: tuple[int, ...]  # one per range
    searched_accuracy: float
    searched_probability: float
    probe_probability: float  # the search's own figure at the probe pitches, mean over ranges
    searched_heard_as: str  # the family the classifier gives most of the searched notes


@dataclass(frozen=True)
class TimbreEvaluation:
    """`evaluate_timbres`' figures; `probes` and `held_out` are per range."""

    rows: tuple[ProgramResult, ...]
    ranges: tuple[tuple[int, int], ...]
    probes: tuple[tuple[int, ...], ...]
    held_out: tuple[tuple[int, ...], ...]
    search: int
    seed: int
    families: tuple[str, ...]
    probe_heard: dict[str, float]  # `FamilySearch.heard_shares` of all the search's probe notes

    @property
    def chance(self) -> float:
        """Accuracy of guessing one of the classifier's families uniformly at random."""
        return 1.0 / len(self.families)

    @property
    def default_accuracy(self) -> float:
        """Mean over programs (every program has the same number of held-out notes)."""
        return float(np.mean([r.default_accuracy for r in self.rows]))

    @property
    def searched_accuracy(self) -> float:
        return float(np.mean([r.searched_accuracy for r in self.rows]))


def evaluate_timbres(synth: Synthesizer, classifier: Classifier,
                     programs: Sequence[int] = DEFAULT_PROGRAMS, seed: int = 0,
                     search: int = DEFAULT_SEARCH,
                     ranges: Sequence[tuple[int, int]] = DEFAULT_EVAL_RANGES) -> TimbreEvaluation:
    """Family accuracy of rendered notes per GM program. Program i is a notional track i (in the
    order given) playing in each of `ranges` (MIDI lo, hi) in turn: (a) with the default
    per-track seed `seed + i`, (b) with the latent the family search picks for that range (probe
    pitches as `render_score` chooses them). Both are judged on each range's held-out pitches
    (`held_out_pitches`), none of which is a probe pitch. Raises BadInputError for an unpitched
    program or a range without held-out pitches."""
    finder = FamilySearch(synth, classifier, seed, search)
    low, high = finder.pitch_range
    if not programs or not ranges:
        raise BadInputError("evaluate_timbres needs at least one GM program and one pitch range")
    spans, held_out = [], []
    for lo, hi in ranges:
        lo, hi = (checks.whole(p, "evaluation pitch", low, high) for p in (lo, hi))
        if hi - lo < PROBE_STEP:  # then it holds a probe grid pitch and a held-out pitch
            raise BadInputError(f"evaluation range {lo}-{hi}: give at least {PROBE_STEP} semitones "
                                f"(within the model's and classifier's {low}..{high})")
        spans.append(list(range(lo, hi + 1)))
        held_out.append(held_out_pitches(lo, hi))
    families: list[str] = []
    for program in programs:
        family = program_family(checks.whole(program, "GM program", 0, 127))
        if family is None:
            raise BadInputError(f"GM program {program} ({GM_PROGRAMS[program].name}) is unpitched: "
                                "it has no family to evaluate")
        if family not in classifier.families:
            raise BadInputError(f"the note classifier has no family {family!r} (GM program {program})")
        families.append(family)
    choices = [[finder.choose(family, span) for span in spans] for family in families]
    default_seeds = [checks.seed(seed + i) for i in range(len(programs))]
    # every (seed, held-out pitch) note needed, each generated once, in batches
    wanted = sorted({(s, p) for s in default_seeds for held in held_out for p in held}
                    | {(c.seed, p) for row in choices for c, held in zip(row, held_out, strict=True)
                       for p in held})
    probs = dict(zip(wanted, note_family_probabilities(synth, classifier, wanted), strict=True))
    rows = []
    for program, family, row, default_seed in zip(programs, families, choices, default_seeds,
                                                  strict=True):
        column = classifier.families.index(family)
        default = np.stack([probs[default_seed, p] for held in held_out for p in held])  # (N, F)
        searched = np.stack([probs[c.seed, p] for c, held in zip(row, held_out, strict=True)
                             for p in held])
        heard = np.bincount(searched.argmax(-1), minlength=len(classifier.families))
        rows.append(ProgramResult(
            program=program, name=GM_PROGRAMS[program].name, family=family,
            default_seed=default_seed,
            default_accuracy=float(np.mean(default.argmax(-1) == column)),
            default_probability=float(default[:, column].mean()),
            searched_seeds=tuple(c.seed for c in row),
            searched_accuracy=float(np.mean(searched.argmax(-1) == column)),
            searched_probability=float(searched[:, column].mean()),
            probe_probability=float(np.mean([c.probability for c in row])),
            searched_heard_as=classifier.families[int(heard.argmax())]))
    probes = tuple(probe_pitches(span, low, high) for span in spans)
    return TimbreEvaluation(tuple(rows), tuple((sp[0], sp[-1]) for sp in spans), probes,
                            tuple(held_out), finder.search, finder.seed, tuple(classifier.families),
                            finder.heard_shares())


def format_evaluation(result: TimbreEvaluation) -> list[str]:
    """The per-program table of `evaluate_timbres` and the overall lines."""
    lines = [f"  {'GM program':28s} {'family':10s} {'default seed':>15s}   {'family search':>24s}"
             f"  {'probe p':>7s}  searched heard as",
             f"  {'':28s} {'':10s} {'seed  acc    p':>15s}   {'seeds':>12s} {'acc    p':>11s}"]
    for r in result.rows:
        seeds = ",".join(map(str, r.searched_seeds))
        lines.append(f"  {f'{r.program:3d} {r.name}'[:28]:28s} {r.family:10s} "
                     f"{r.default_seed:4d} {r.default_accuracy:4.2f} {r.default_probability:4.2f}   "
                     f"{seeds:>12s} {r.searched_accuracy:6.2f} {r.searched_probability:4.2f}"
                     f"  {r.probe_probability:7.2f}  {r.searched_heard_as}")
    lines.append(f"  {'overall (mean over programs)':39s} {result.default_accuracy:9.2f} "
                 f"{'':20s}{result.searched_accuracy:6.2f}")
    lines.append(f"  chance (1 of {len(result.families)} families): {result.chance:.3f}")
    heard = ", ".join(f"{family} {share:.2f}" for family, share in result.probe_heard.items() if share)
    lines.append(f"  families the classifier hears in the search's probe notes: {heard}")
    return lines

"""The built-in MIDI corpus: scores bundled with music21, converted once to MIDI files.

Sets, all offline in the music21 package (docs/sequence.md gives their sizes):

- ``bach``: the Bach chorales (four-part, MusicXML), one MIDI file per chorale;
- ``essen``: German folk songs of the Essen collection (ABC opus files), one MIDI file per tune;
- ``palestrina``: Palestrina's mass movements (four to six voices, Humdrum), one file each;
- ``monteverdi``: Monteverdi's madrigals (five voices, MusicXML);
- ``quartets``: string quartet movements by Haydn, Mozart and Beethoven (MusicXML).

Multi-part sets keep one MIDI track per part (music21 writes them so), which the accompaniment
model (`gansynth.sequence.parts`) reads as melody and accompaniment.

music21 writes the MIDI; symusic reads each file back, and a score that fails to parse, to
write or to read back (or has no notes) is skipped and counted. Existing files are kept, so the
command can be re-run to finish an interrupted conversion.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gansynth import checks
from gansynth.errors import BadInputError
from gansynth.io import atomic_path

#: Essen opus files (music21 corpus names) in the default corpus: about 1,700 tunes.
ESSEN_FILES: tuple[str, ...] = (
    "altdeu10", "altdeu20", "kinder0", "ballad10", "ballad20", "ballad30", "ballad40",
    "ballad50", "ballad60", "ballad70", "ballad80",
)
#: Multi-part sets read from music21's composer folders: (composers, file suffix, left out).
COMPOSER_SETS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "bach": (("bach",), ".mxl", ()),
    "palestrina": (("palestrina",), ".krn", ()),
    "monteverdi": (("monteverdi",), ".mxl", ()),
    # k545 is a piano sonata; the five Beethoven files that hold a whole quartet each take many
    # minutes to parse, their single movements are in
    "quartets": (("haydn", "mozart", "beethoven"), ".mxl",
                 ("k545", "opus132.mxl", "opus18no3.mxl", "opus18no4.mxl", "opus18no5.mxl",
                  "beethoven/opus74.mxl")),
}
SETS: tuple[str, ...] = ("bach", "essen", "palestrina", "monteverdi", "quartets")
DEFAULT_SETS: tuple[str, ...] = ("bach", "essen")


@dataclass
class CorpusBuildReport:
    """What `build_music21_corpus` did: files written, already there, and skipped by reason."""

    written: int = 0
    existing: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return f"{self.written} MIDI files written, {self.existing} already present, skipped: {skipped}"


def _parse_errors() -> tuple[type[BaseException], ...]:
    """Exceptions music21 raises on scores it cannot parse or write (a closed list)."""
    from music21.exceptions21 import Music21Exception

    return (Music21Exception, ValueError, IndexError, KeyError, TypeError, AttributeError,
            ZeroDivisionError)


class _EmptyScore(Exception):
    """A converted score that holds no notes."""


def _write_score(score: Any, path: Path, report: CorpusBuildReport) -> None:
    """music21 stream -> MIDI file, checked by reading it back with symusic."""
    from symusic import Score

    errors: tuple[type[BaseException], ...] = (RuntimeError, *_parse_errors())
    try:
        with atomic_path(path) as tmp:
            score.write("midi", fp=str(tmp))
            midi: Any = Score(str(tmp))
            if midi.note_num() == 0:
                raise _EmptyScore
    except _EmptyScore:
        report.skipped["without notes"] += 1
        return
    except errors as err:
        report.skipped[f"unwritable ({type(err).__name__})"] += 1
        return
    report.written += 1


def _composer_sources(name: str) -> list[Path]:
    """The source files of a set of `COMPOSER_SETS`, sorted."""
    from music21 import corpus

    composers, suffix, left_out = COMPOSER_SETS[name]
    paths = [Path(p) for c in composers for p in corpus.getComposer(c)]
    suffixes = (".mxl", ".xml") if suffix == ".mxl" else (suffix,)
    return sorted(p for p in paths if p.suffix in suffixes and not any(x in str(p) for x in left_out))


def _target_name(src: Path, with_composer: bool) -> str:
    """A source file's MIDI name: its path below the corpus's composer folder (with the composer
    when a set has several), joined by '_' (bach/bwv10.7.mxl -> bwv10_7.mid;
    haydn/opus1no1/movement1.mxl -> haydn_opus1no1_movement1.mid)."""
    below = 1 if with_composer else 2
    parts = src.parts[src.parts.index("corpus") + below:] if "corpus" in src.parts else (src.name,)
    stem = "_".join((*parts[:-1], Path(parts[-1]).stem))
    return stem.replace(".", "_") + ".mid"


def _iter_essen(name: str, report: CorpusBuildReport) -> Iterator[tuple[str, Any]]:
    from music21 import corpus

    try:
        opus = corpus.parse(f"essenFolksong/{name}")
    except _parse_errors() as err:
        report.skipped[f"unparsable opus ({type(err).__name__})"] += 1
        return
    for i, score in enumerate(opus.scores):
        yield f"{name}_{i:04d}", score


def build_music21_corpus(out_dir: str | os.PathLike[str], sets: Sequence[str] = DEFAULT_SETS,
                         limit: int = 0) -> CorpusBuildReport:
    """Convert the chosen music21 sets to MIDI files under ``out_dir/<set>/`` (with a progress bar).

    limit: at most this many source files per set (0: all), for quick runs and tests.
    """
    from music21 import converter

    limit = checks.whole(limit, "limit (0: all)", 0)
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise BadInputError(f"unknown corpus set {unknown[0]!r}; choose from {', '.join(SETS)}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder; choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    ignore = out / ".gitignore"
    if not ignore.exists():  # a generated corpus never ends up in a repository by accident
        ignore.write_text("# generated by `gansynth corpus build-music21`\n*\n")
    report = CorpusBuildReport()
    for name in (n for n in sets if n in COMPOSER_SETS):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        sources = _composer_sources(name)[: limit or None]
        several = len(COMPOSER_SETS[name][0]) > 1
        for src in tqdm(sources, desc=name, unit="score"):
            target = folder / _target_name(src, several)
            if target.exists():
                report.existing += 1
                continue
            try:
                score = converter.parse(str(src))
            except _parse_errors() as err:
                report.skipped[f"unparsable ({type(err).__name__})"] += 1
                continue
            _write_score(score, target, report)
    if "essen" in sets:
        folder = out / "essen"
        folder.mkdir(parents=True, exist_ok=True)
        names = ESSEN_FILES[: limit or None]
        for name in tqdm(names, desc="essen folk songs", unit="opus"):
            count = 0
            for stem, score in _iter_essen(name, report):
                if limit and count >= limit:
                    break
                count += 1
                target = folder / f"{stem}.mid"
                if target.exists():
                    report.existing += 1
                    continue
                _write_score(score, target, report)
    return report

"""The General MIDI program -> NSynth (family, source) mapping used by the GM builder.

NSynth labels each instrument with one of 11 families (how it is played / what it is) and one of
3 sources: acoustic (recorded), electronic (an electric instrument, e.g. an electric piano or
guitar) and synthetic (a synthesizer). Each GM program (0..127, the 16 groups of 8 of the GM 1
sound set) gets the closest pair; docs/data.md prints the whole table. Choices worth knowing:
chromatic percussion (8-15), timpani and the pitched percussion group go to `mallet`; accordion and
harmonica to `reed` (free reeds); synth pads, effects and sound effects to `synth_lead` (NSynth's
only synthesizer family); choirs to `vocal`. Programs whose notes have no clear pitch (sound
effects, drums) are marked unpitched: the builder renders them like the rest, and the pitch check
in the tests leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from gansynth.config import NSYNTH_FAMILIES, NSYNTH_SOURCES


@dataclass(frozen=True)
class GMProgram:
    program: int
    name: str
    family: str
    source: str
    pitched: bool = True

    @property
    def family_id(self) -> int:
        return NSYNTH_FAMILIES.index(self.family)

    @property
    def source_id(self) -> int:
        return NSYNTH_SOURCES.index(self.source)

    @property
    def instrument_str(self) -> str:
        """NSynth-style `<family>_<source>_<program:03d>`, e.g. `keyboard_acoustic_000`."""
        return f"{self.family}_{self.source}_{self.program:03d}"


A, E, S = "acoustic", "electronic", "synthetic"

# (name, family, source[, pitched]) for programs 0..127 in order
_TABLE: list[tuple[str, str, str] | tuple[str, str, str, bool]] = [
    # 0-7 piano
    ("Acoustic Grand Piano", "keyboard", A), ("Bright Acoustic Piano", "keyboard", A),
    ("Electric Grand Piano", "keyboard", E), ("Honky-tonk Piano", "keyboard", A),
    ("Electric Piano 1", "keyboard", E), ("Electric Piano 2", "keyboard", E),
    ("Harpsichord", "keyboard", A), ("Clavinet", "keyboard", E),
    # 8-15 chromatic percussion
    ("Celesta", "mallet", A), ("Glockenspiel", "mallet", A), ("Music Box", "mallet", A),
    ("Vibraphone", "mallet", A), ("Marimba", "mallet", A), ("Xylophone", "mallet", A),
    ("Tubular Bells", "mallet", A), ("Dulcimer", "mallet", A),
    # 16-23 organ
    ("Drawbar Organ", "organ", E), ("Percussive Organ", "organ", E), ("Rock Organ", "organ", E),
    ("Church Organ", "organ", A), ("Reed Organ", "organ", A), ("Accordion", "reed", A),
    ("Harmonica", "reed", A), ("Tango Accordion", "reed", A),
    # 24-31 guitar
    ("Acoustic Guitar (nylon)", "guitar", A), ("Acoustic Guitar (steel)", "guitar", A),
    ("Electric Guitar (jazz)", "guitar", E), ("Electric Guitar (clean)", "guitar", E),
    ("Electric Guitar (muted)", "guitar", E), ("Overdriven Guitar", "guitar", E),
    ("Distortion Guitar", "guitar", E), ("Guitar Harmonics", "guitar", E),
    # 32-39 bass
    ("Acoustic Bass", "bass", A), ("Electric Bass (finger)", "bass", E),
    ("Electric Bass (pick)", "bass", E), ("Fretless Bass", "bass", E), ("Slap Bass 1", "bass", E),
    ("Slap Bass 2", "bass", E), ("Synth Bass 1", "bass", S), ("Synth Bass 2", "bass", S),
    # 40-47 strings
    ("Violin", "string", A), ("Viola", "string", A), ("Cello", "string", A),
    ("Contrabass", "string", A), ("Tremolo Strings", "string", A),
    ("Pizzicato Strings", "string", A), ("Orchestral Harp", "string", A),
    ("Timpani", "mallet", A),
    # 48-55 ensemble
    ("String Ensemble 1", "string", A), ("String Ensemble 2", "string", A),
    ("Synth Strings 1", "string", S), ("Synth Strings 2", "string", S),
    ("Choir Aahs", "vocal", A), ("Voice Oohs", "vocal", A), ("Synth Voice", "vocal", S),
    ("Orchestra Hit", "brass", A),
    # 56-63 brass
    ("Trumpet", "brass", A), ("Trombone", "brass", A), ("Tuba", "brass", A),
    ("Muted Trumpet", "brass", A), ("French Horn", "brass", A), ("Brass Section", "brass", A),
    ("Synth Brass 1", "brass", S), ("Synth Brass 2", "brass", S),
    # 64-71 reed
    ("Soprano Sax", "reed", A), ("Alto Sax", "reed", A), ("Tenor Sax", "reed", A),
    ("Baritone Sax", "reed", A), ("Oboe", "reed", A), ("English Horn", "reed", A),
    ("Bassoon", "reed", A), ("Clarinet", "reed", A),
    # 72-79 pipe
    ("Piccolo", "flute", A), ("Flute", "flute", A), ("Recorder", "flute", A),
    ("Pan Flute", "flute", A), ("Blown Bottle", "flute", A), ("Shakuhachi", "flute", A),
    ("Whistle", "flute", A), ("Ocarina", "flute", A),
    # 80-87 synth lead
    ("Lead 1 (square)", "synth_lead", S), ("Lead 2 (sawtooth)", "synth_lead", S),
    ("Lead 3 (calliope)", "synth_lead", S), ("Lead 4 (chiff)", "synth_lead", S),
    ("Lead 5 (charang)", "synth_lead", S), ("Lead 6 (voice)", "synth_lead", S),
    ("Lead 7 (fifths)", "synth_lead", S), ("Lead 8 (bass + lead)", "synth_lead", S),
    # 88-95 synth pad
    ("Pad 1 (new age)", "synth_lead", S), ("Pad 2 (warm)", "synth_lead", S),
    ("Pad 3 (polysynth)", "synth_lead", S), ("Pad 4 (choir)", "vocal", S),
    ("Pad 5 (bowed)", "synth_lead", S), ("Pad 6 (metallic)", "synth_lead", S),
    ("Pad 7 (halo)", "synth_lead", S), ("Pad 8 (sweep)", "synth_lead", S),
    # 96-103 synth effects
    ("FX 1 (rain)", "synth_lead", S), ("FX 2 (soundtrack)", "synth_lead", S),
    ("FX 3 (crystal)", "synth_lead", S), ("FX 4 (atmosphere)", "synth_lead", S),
    ("FX 5 (brightness)", "synth_lead", S), ("FX 6 (goblins)", "synth_lead", S),
    ("FX 7 (echoes)", "synth_lead", S), ("FX 8 (sci-fi)", "synth_lead", S),
    # 104-111 ethnic
    ("Sitar", "guitar", A), ("Banjo", "guitar", A), ("Shamisen", "guitar", A),
    ("Koto", "guitar", A), ("Kalimba", "mallet", A), ("Bagpipe", "reed", A),
    ("Fiddle", "string", A), ("Shanai", "reed", A),
    # 112-119 percussive
    ("Tinkle Bell", "mallet", A), ("Agogo", "mallet", A, False), ("Steel Drums", "mallet", A),
    ("Woodblock", "mallet", A, False), ("Taiko Drum", "mallet", A, False),
    ("Melodic Tom", "mallet", A, False), ("Synth Drum", "mallet", S, False),
    ("Reverse Cymbal", "mallet", S, False),
    # 120-127 sound effects
    ("Guitar Fret Noise", "guitar", A, False), ("Breath Noise", "flute", A, False),
    ("Seashore", "synth_lead", S, False), ("Bird Tweet", "flute", S, False),
    ("Telephone Ring", "synth_lead", E, False), ("Helicopter", "synth_lead", S, False),
    ("Applause", "synth_lead", S, False), ("Gunshot", "synth_lead", S, False),
]

GM_PROGRAMS: tuple[GMProgram, ...] = tuple(
    GMProgram(program, *entry) for program, entry in enumerate(_TABLE))  # type: ignore[arg-type]

assert len(GM_PROGRAMS) == 128

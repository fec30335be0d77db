"""The Synthesizer: an exported note model -> notes, batches of notes and timbre interpolations.

Everything here works on any object following the `NoteModel` protocol: the trained GAN
(`gansynth.checkpoint.GeneratorModel`) or the deterministic `gansynth.testing.ToneModel`.

Level conventions (documented in docs/usage.md):
- velocity -> gain: `gain = (velocity / 127) ** 2`, i.e. 40 * log10(velocity / 127) dB
  (velocity 127: 0 dB, 100: -4.2 dB, 64: -11.9 dB, 32: -24 dB, 1: -42 dB);
- every note gets a raised-cosine attack (`attack_s`, a de-click) and a raised-cosine release
  (`release_s`) that starts at the note's end; both have a continuous first derivative, so no
  clicks; a note is held at most `note_length - release` samples (the model's note length);
- no per-note normalization: the model's own level times the velocity gain.

Precision (`PRECISIONS`, `generate_audio`): "fp32" runs everything in float32; "bf16" runs the
generator network under `torch.autocast(..., torch.bfloat16)` and the spectrogram -> audio inverse
(the IF -> phase cumulative sum, the mel -> linear products, the inverse FFTs) in float32 on the
generator's output cast to float32. The IF -> phase sum integrates every rounding error of the
generator over the note's frames, so bf16 notes drift in phase from the fp32 ones (docs/usage.md,
"Precision").
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gansynth import checks
from gansynth.errors import BadInputError
from gansynth.io import resample
from gansynth.level import (  # noqa: F401  (NoteModel, velocity_to_gain: re-exported)
    LEVEL_DBFS,
    NoteModel,
    latent_from_seed,
    measure_output_gain,
    velocity_to_gain,
)
from gansynth.spectral import specgrams_to_waves

if TYPE_CHECKING:
    from gansynth.render import RenderResult
    from gansynth.score import Note, Score

OUTPUT_RATES = (16000, 22050, 44100, 48000)
SAMPLE_RATE_RANGE = (8000, 192000)  # output rates accepted (Hz)
MAX_BATCH = 4096
MAX_STEPS = 1024  # notes along one interpolation
PRECISIONS = ("fp32", "bf16")  # of the generator network; the inverse transform is always float32


def check_precision(precision: str) -> str:
    """`precision` if it is one of PRECISIONS, else BadInputError naming it."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise BadInputError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)} "
                            "(fp32: float32 throughout; bf16: the generator network in bfloat16)")
    return precision


@torch.no_grad()
def generate_audio(model: NoteModel, z: torch.Tensor, pitch: torch.Tensor,
                   precision: str = "fp32") -> torch.Tensor:
    """z: (B, latent_dim) float32 on the model's device; pitch: (B,) int64 MIDI pitch ->
    (B, note_length) float32 audio at the model's rate.

    precision "fp32": `model.generate`. "bf16", for a model that makes spectrograms first (a
    `generate_specgrams(z, pitch) -> (B, 2, frames, bins)` method and a `spectral` config, as
    `gansynth.checkpoint.GeneratorModel`): the generator network runs under bfloat16 autocast on
    z's device type, and its spectrograms, cast to float32, go through the float32 inverse
    transform outside autocast. A model without a spectrogram stage (the analytic `ToneModel`)
    runs its whole `generate` under autocast.
    """
    if check_precision(precision) == "fp32":
        return model.generate(z, pitch)
    to_specgrams = getattr(model, "generate_specgrams", None)
    spectral = getattr(model, "spectral", None)
    if to_specgrams is None or spectral is None:
        with torch.autocast(z.device.type, dtype=torch.bfloat16):
            audio = model.generate(z, pitch)
        return audio.float()
    with torch.autocast(z.device.type, dtype=torch.bfloat16):
        specgrams = to_specgrams(z, pitch)  # (B, 2, frames, bins)
    return specgrams_to_waves(specgrams.float(), spectral)  # float32, autocast off


def note_envelope(hold: int, attack: int, release: int) -> np.ndarray:
    """Amplitude envelope of a note held `hold` samples, then released over `release` samples.

    Returns (hold + release,) float32: a raised-cosine rise over the first `attack` samples
    (0 at sample 0), 1 until sample `hold`, then a raised-cosine fall reaching exactly 0 at the last
    sample. The largest step between samples is about pi / (2 * min(attack, release)).
    """
    if hold < 0 or attack < 0 or release < 1:
        raise ValueError(f"note_envelope: need hold >= 0, attack >= 0, release >= 1; got "
                         f"{hold}, {attack}, {release}")
    env = np.ones(hold + release, dtype=np.float64)
    if attack > 0:
        n = min(attack, hold + release)
        env[:n] = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / attack)
    j = np.arange(1, release + 1)
    env[hold:] *= 0.5 + 0.5 * np.cos(np.pi * j / release)
    return env.astype(np.float32)


def slerp(z_a: torch.Tensor, z_b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents z_a, z_b: (..., D); t in [0, 1] (scalar or (...,1)).

    Falls back to linear interpolation when the two are (nearly) parallel.
    """
    t = torch.as_tensor(t, dtype=z_a.dtype, device=z_a.device)
    a_unit = z_a / z_a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b_unit = z_b / z_b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = (a_unit * b_unit).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    linear = (1 - t) * z_a + t * z_b
    safe_sin = torch.where(sin.abs() < 1e-6, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / safe_sin
    return torch.where(sin.abs() < 1e-6, linear, spherical)


def latent_key(z: torch.Tensor) -> str:
    """A content hash of a latent (cache key for latents given as tensors)."""
    return hashlib.sha1(z.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()


class NoteCache:
    """LRU cache of generated notes keyed by (latent key, pitch), bounded by `max_bytes`."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> np.ndarray | None:
        audio = self._items.get(key)
        if audio is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return audio

    def put(self, key: Hashable, audio: np.ndarray) -> None:
        if key in self._items:
            return
        if audio.nbytes > self.max_bytes:
            return
        self._items[key] = audio
        self.bytes += audio.nbytes
        while self.bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.bytes -= old.nbytes

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


Latent = int | torch.Tensor  # a seed or a (latent_dim,) tensor


class Synthesizer:
    """Notes from a `NoteModel`, at the model's rate or resampled to `sample_rate`.

    batch_size: notes per model call; cache_bytes: memory bound of the generated-note cache;
    attack_s, release_s: the envelope of `note`, `notes` and score rendering (see module doc);
    precision: "fp32" or "bf16", the generator network's precision (see `generate_audio`).
    """

    def __init__(self, model: NoteModel, sample_rate: int | None = None, batch_size: int = 8,
                 cache_bytes: int = 256 * 2**20, attack_s: float = 0.002,
                 release_s: float = 0.2, device: str | torch.device = "cpu",
                 precision: str = "fp32") -> None:
        self.model = model
        self.precision = check_precision(precision)
        self.sample_rate = (int(model.sample_rate) if sample_rate is None
                            else checks.whole(sample_rate, "sample rate", *SAMPLE_RATE_RANGE))
        self.batch_size = checks.whole(batch_size, "batch size", 1, MAX_BATCH)
        self.cache = NoteCache(checks.whole(cache_bytes, "cache size", 0))
        self.device = checks.device(device)
        attack_s = checks.finite(attack_s, "attack time (s)", low=0.0)
        release_s = checks.finite(release_s, "release time (s)", above=0.0)
        self.attack = round(attack_s * model.sample_rate)
        self.release = max(1, round(release_s * model.sample_rate))
        self._output_gain: float | None = None
        if self.release + self.attack >= model.note_length:
            raise BadInputError(f"attack {attack_s} s + release {release_s} s must be shorter than "
                                f"the model's note ({model.note_length / model.sample_rate} s)")

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu",
             sample_rate: int | None = None, batch_size: int = 8,
             cache_bytes: int = 256 * 2**20, attack_s: float = 0.002,
             release_s: float = 0.2, precision: str = "fp32") -> Synthesizer:
        """Load an exported model file (None = the shipped default model); other arguments as
        for the constructor (the precision is checked before the file is read)."""
        from gansynth.checkpoint import load_model

        check_precision(precision)
        model = load_model(path, device=checks.device(device))
        return cls(model, sample_rate=sample_rate, batch_size=batch_size, cache_bytes=cache_bytes,
                   attack_s=attack_s, release_s=release_s, device=device, precision=precision)

    # -- latents ---------------------------------------------------------------------------------
    @property
    def model_rate(self) -> int:
        return int(self.model.sample_rate)

    def latent(self, timbre: Latent) -> torch.Tensor:
        """(latent_dim,) float32 latent of a seed (see `latent_from_seed`) or a given tensor."""
        if isinstance(timbre, torch.Tensor):
            z = timbre.detach().to("cpu", torch.float32).reshape(-1)
            if z.numel() != self.model.latent_dim:
                raise BadInputError(f"latent has {z.numel()} values; the model needs "
                                    f"{self.model.latent_dim}")
            return z
        return latent_from_seed(checks.seed(timbre, "timbre seed"), self.model.latent_dim)

    def check_pitch(self, pitch: int) -> int:
        if not self.model.pitch_min <= pitch <= self.model.pitch_max:
            raise BadInputError(f"pitch {pitch} is outside the model's range "
                                f"{self.model.pitch_min}..{self.model.pitch_max}")
        return int(pitch)

    # -- generation with the cache ---------------------------------------------------------------
    def generate(self, keys: Sequence[Hashable], latents: Sequence[torch.Tensor],
                 pitches: Sequence[int]) -> list[np.ndarray]:
        """Raw model notes for (latent, pitch) pairs: each (note_length,) float32 at the model rate.

        keys identify the latents for the cache (entry key = (key, pitch)); pairs already cached
        are not generated again; the rest go through the model in batches of `batch_size`, at
        `precision` (`generate_audio`).
        """
        pairs = [(k, int(p)) for k, p in zip(keys, pitches, strict=True)]
        found: dict[tuple[Hashable, int], np.ndarray] = {}
        todo: dict[tuple[Hashable, int], int] = {}  # missing pair -> first index asking for it
        for i, pair in enumerate(pairs):
            if pair in found or pair in todo:
                continue
            cached = self.cache.get(pair)
            if cached is None:
                todo[pair] = i
            else:
                found[pair] = cached
        missing = list(todo.items())
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            z = torch.stack([latents[i] for _, i in chunk]).to(self.device, torch.float32)
            pitch = torch.tensor([p for (_, p), _ in chunk], dtype=torch.int64, device=self.device)
            audio = generate_audio(self.model, z, pitch, self.precision)  # (B, note_length)
            if audio.shape != (len(chunk), self.model.note_length):
                raise RuntimeError(f"model returned {tuple(audio.shape)}, expected "
                                   f"{(len(chunk), self.model.note_length)}")
            audio_np = audio.detach().to("cpu", torch.float32).numpy()
            for row, (pair, _) in enumerate(chunk):
                note = np.ascontiguousarray(audio_np[row])
                self.cache.put(pair, note)
                found[pair] = note
        return [found[pair] for pair in pairs]

    @property
    def output_gain(self) -> float:
        """The model's fixed output calibration (`gansynth.level.measure_output_gain`): every note
        gets it, so velocity alone sets a note's level. A model file stores it
        (`meta["output_gain"]`, measured at export); a model without one is measured once here."""
        if self._output_gain is None:
            self._output_gain = calibrated_gain(self.model)
        if self._output_gain is None:
            self._output_gain = measure_output_gain(self.model, self.device, self.batch_size)
        return self._output_gain

    def shape_note(self, audio: np.ndarray, velocity: float, hold: int) -> np.ndarray:
        """Apply the output calibration, the velocity gain and the envelope to a raw note: hold
        `hold` samples (capped at the note length minus the release), then release ->
        (min(hold, L - R) + R,) float32."""
        hold = min(max(hold, 0), self.max_hold)
        env = note_envelope(hold, self.attack, self.release)
        gain = np.float32(velocity_to_gain(velocity) * self.output_gain)
        return audio[: env.shape[0]] * env * gain

    @property
    def max_hold(self) -> int:
        """The longest hold in samples at the model rate: the model's note minus the release."""
        return self.model.note_length - self.release

    def _hold(self, duration: float | None) -> int:
        if duration is None:
            return self.max_hold
        duration = checks.finite(duration, "note duration (s)", low=0.0)
        return min(round(duration * self.model.sample_rate), self.max_hold)

    def _key(self, timbre: Latent, z: torch.Tensor) -> Hashable:
        return ("seed", int(timbre), 0) if not isinstance(timbre, torch.Tensor) else ("z", latent_key(z))

    # -- public note API ---------------------------------------------------------------------------
    def notes(self, pitches: Sequence[int], timbres: Latent | Sequence[Latent] = 0,
              velocities: float | Sequence[float] = 100,
              durations: float | None | Sequence[float | None] = None) -> list[np.ndarray]:
        """Several notes in batched model calls.

        pitches: MIDI pitches in the model's range; timbres: one seed / latent for all or one each;
        velocities: 1..127 (gain (v / 127)^2 on the model's calibrated level, see `output_gain`);
        durations: held seconds before the release (None = the model's full note).
        Returns one (samples,) float32 array per note at `self.sample_rate`; a note lasts
        min(duration, note length - release) + release seconds.
        """
        n = len(pitches)

        def per_note(value: object, name: str) -> list:  # type: ignore[type-arg]
            if isinstance(value, (list, tuple)):
                if len(value) != n:
                    raise BadInputError(f"{name}: {len(value)} values for {n} pitches")
                return list(value)
            return [value] * n

        timbre_list: list[Latent] = per_note(timbres, "timbres")
        velocity_list: list[int] = [checks.whole(v, "velocity", 1, 127)
                                    for v in per_note(velocities, "velocities")]
        duration_list: list[float | None] = per_note(durations, "durations")
        pitch_list = [self.check_pitch(int(p)) for p in pitches]
        latents = [self.latent(t) for t in timbre_list]
        keys = [self._key(t, z) for t, z in zip(timbre_list, latents, strict=True)]
        raw = self.generate(keys, latents, pitch_list)
        shaped = [self.shape_note(a, v, self._hold(d))
                  for a, v, d in zip(raw, velocity_list, duration_list, strict=True)]
        return [resample(a, self.model_rate, self.sample_rate) for a in shaped]

    def note(self, pitch: int, seed: int | None = None, z: torch.Tensor | None = None,
             velocity: float = 100, duration: float | None = None) -> np.ndarray:
        """One note: (samples,) float32 at `self.sample_rate`. Give a `seed` or a latent `z`
        (default seed 0); `duration` is the held time in seconds (None = full model note)."""
        if seed is not None and z is not None:
            raise BadInputError("give a seed or a latent z, not both")
        timbre: Latent = z if z is not None else (seed if seed is not None else 0)
        return self.notes([pitch], [timbre], [velocity], [duration])[0]

    def interpolate(self, z_a: Latent, z_b: Latent, pitch: int, steps: int,
                    velocity: float = 100, duration: float | None = None) -> np.ndarray:
        """Notes along the slerp path from timbre z_a to z_b (seeds or latents), both included.

        Returns (steps, samples) float32 at `self.sample_rate`.
        """
        steps = checks.whole(steps, "interpolation steps", 2, MAX_STEPS)
        a, b = self.latent(z_a), self.latent(z_b)
        path = [slerp(a, b, float(t)) for t in torch.linspace(0.0, 1.0, steps)]
        return np.stack(self.notes([pitch] * steps, path, velocity, duration))

    def render_score(self, score: str | Path | Score | Sequence[Note],
                     **options: object) -> RenderResult:
        """Render a MIDI file / Score / notes; see `gansynth.render.render_score` for options."""
        from gansynth.render import render_score

        return render_score(self, score, **options)  # type: ignore[arg-type]


def calibrated_gain(model: object) -> float | None:
    """The output gain a model carries (a positive finite `output_gain` attribute), or None."""
    gain = getattr(model, "output_gain", None)
    return float(gain) if isinstance(gain, (int, float)) and math.isfinite(gain) and gain > 0 else None


def snr_db(reference: np.ndarray, audio: np.ndarray) -> float:
    """Signal-to-noise ratio of `audio` against `reference` (same shape) in dB:
    10 log10(sum(reference^2) / sum((reference - audio)^2)), in float64; inf when they are equal."""
    ref = np.asarray(reference, dtype=np.float64)
    diff = ref - np.asarray(audio, dtype=np.float64)
    noise = float(np.sum(diff * diff))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref * ref)) / noise)


def peak_dbfs(audio: np.ndarray) -> float:
    """Peak level in dB relative to full scale (-inf for silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf

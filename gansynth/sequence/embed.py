"""Song embeddings with the sequence auto-encoder: encode, reconstruct, blend, interpolate and
compose from a random embedding (the Python side of `gansynth encode`, `gansynth reconstruct`
and `gansynth compose --blend / --interpolate / --latent random`).

A piece is cut into segments of `roll.segment_beats` beats (`gansynth.sequence.roll`), and each
segment gets its own embedding, so a piece's embedding is an (N, latent) array. Decoding a
sequence of embeddings plays the decoded segments one after another.

    loaded = load_autoencoder(DEFAULT_AUTOENCODER)
    z = encode(loaded, score_from_midi("a.mid"))               # (segments, latent)
    score_to_midi(blend(loaded, [a, b], [0.5, 0.5]), "ab.mid")

Blends and interpolations pair the pieces segment by segment (segment i of A with segment i of
B) and are as long as the shortest piece. Decoded notes have one velocity (the median of the
input's for a reconstruction, 90 otherwise) and the tempo of the first input piece.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gansynth import checks
from gansynth.errors import BadInputError
from gansynth.score import Score
from gansynth.sequence.ae_export import AutoencoderModel
from gansynth.sequence.autoencoder import decode_rolls, encode_rolls
from gansynth.sequence.roll import DEFAULT_VELOCITY, rolls_to_score, score_roll, segments

MAX_SEGMENTS = 4096  # one decoded piece: at most this many segments
MAX_STEPS = 256  # pieces of one interpolation


def piece_segments(loaded: AutoencoderModel, score: Score) -> np.ndarray:
    """The non-overlapping segments (N, T, 2, P) of a piece; refuses a piece without notes in the
    model's pitch range, naming its file."""
    roll = loaded.config.roll
    rolls = segments(score_roll(score, roll), roll)
    if not rolls[:, :, 0].any():
        raise BadInputError(f"{score.path}: no pitched notes in the auto-encoder's range MIDI "
                            f"{roll.pitch_low}..{roll.pitch_high}; nothing to encode")
    return rolls


def encode(loaded: AutoencoderModel, score: Score) -> np.ndarray:
    """Embeddings (N, latent) float32 of a piece's segments (the posterior means)."""
    return encode_rolls(loaded.model, piece_segments(loaded, score)).float().cpu().numpy()


def _check_latents(loaded: AutoencoderModel, latents: np.ndarray, what: str) -> np.ndarray:
    z = np.asarray(latents, dtype=np.float32)
    if z.ndim == 1:
        z = z[None]
    dim = loaded.config.model.latent_dim
    if z.ndim != 2 or z.shape[1] != dim or not 1 <= z.shape[0] <= MAX_SEGMENTS:
        raise BadInputError(f"{what}: embeddings must be an array of shape (segments, {dim}) with "
                            f"1..{MAX_SEGMENTS} segments, got shape {tuple(z.shape)}")
    if not np.isfinite(z).all():
        raise BadInputError(f"{what}: embeddings hold NaN or infinite values")
    return z


def decode(loaded: AutoencoderModel, latents: np.ndarray, qpm: float = 120.0, temperature: float = 0.0,
           seed: int = 0, velocity: int = DEFAULT_VELOCITY, what: str = "embeddings") -> Score:
    """A one-track score from embeddings (N, latent): each decoded segment after the other, at
    `qpm` quarter notes per minute. temperature 0 decodes deterministically (see
    `SequenceAutoencoder.generate`)."""
    z = _check_latents(loaded, latents, what)
    checks.finite(qpm, "tempo (qpm)", low=1.0, high=1000.0)
    checks.finite(temperature, "temperature", low=0.0, high=100.0)
    velocity = checks.whole(velocity, "velocity", 1, 127)
    device = next(loaded.model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(checks.seed(seed))
    rolls = decode_rolls(loaded.model, torch.as_tensor(z, device=device), temperature, generator)
    return rolls_to_score(rolls, loaded.config.roll, qpm=qpm, velocity=velocity)


def reconstruct(loaded: AutoencoderModel, score: Score, temperature: float = 0.0, seed: int = 0) -> Score:
    """Decode a piece's own embeddings: the auto-encoder's version of the piece, at its tempo and
    its median velocity."""
    velocities = [n.velocity for n in score.pitched_notes()]
    velocity = int(np.median(velocities)) if velocities else DEFAULT_VELOCITY
    return decode(loaded, encode(loaded, score), qpm=score.qpm, temperature=temperature, seed=seed,
                  velocity=velocity)


def blend_latents(latents: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The weighted mean (weights normalized to sum 1; default equal) of several pieces'
    embeddings, segment by segment over the shortest piece: (min N, latent)."""
    if len(latents) < 2:
        raise BadInputError(f"blend needs at least 2 pieces, got {len(latents)}")
    w = np.ones(len(latents)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(latents),):
        raise BadInputError(f"--weights: {len(w)} weights for {len(latents)} pieces; give one per piece")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise BadInputError(f"--weights must be finite, >= 0 and not all 0, got {list(w)}")
    w = w / w.sum()
    length = min(len(z) for z in latents)
    mean = np.zeros((length, np.asarray(latents[0]).shape[-1]), np.float64)
    for wk, z in zip(w, latents, strict=True):
        mean += float(wk) * np.asarray(z[:length], np.float64)
    return mean.astype(np.float32)


def blend(loaded: AutoencoderModel, pieces: Sequence[Score], weights: Sequence[float] | None = None,
          temperature: float = 0.0, seed: int = 0) -> Score:
    """Decode the weighted mean embedding of two or more pieces (see `blend_latents`), at the
    first piece's tempo."""
    latents = [encode(loaded, piece) for piece in pieces]
    return decode(loaded, blend_latents(latents, weights), qpm=pieces[0].qpm if pieces else 120.0,
                  temperature=temperature, seed=seed)


def interpolate(loaded: AutoencoderModel, first: Score, second: Score, steps: int,
                temperature: float = 0.0, seed: int = 0) -> list[Score]:
    """`steps` pieces from the first to the second: embeddings (1 - t) z_A + t z_B for t evenly
    from 0 to 1 (both ends included), segment by segment over the shorter piece."""
    steps = checks.whole(steps, "steps", 2, MAX_STEPS)
    a, b = encode(loaded, first), encode(loaded, second)
    return [decode(loaded, blend_latents([a, b], [1.0 - t, t]), qpm=first.qpm, temperature=temperature,
                   seed=seed) for t in np.linspace(0.0, 1.0, steps)]


def random_latents(loaded: AutoencoderModel, segments_count: int, seed: int) -> np.ndarray:
    """(N, latent) embeddings drawn from N(latent_mean, latent_std^2) of the training segments."""
    count = checks.whole(segments_count, "segments", 1, MAX_SEGMENTS)
    generator = torch.Generator().manual_seed(checks.seed(seed))
    noise = torch.randn(count, loaded.config.model.latent_dim, generator=generator)
    return (loaded.latent_mean + loaded.latent_std * noise).numpy().astype(np.float32)


def compose_random(loaded: AutoencoderModel, segments_count: int = 2, seed: int = 0,
                   temperature: float = 0.0, qpm: float = 120.0) -> Score:
    """A piece decoded from `segments_count` random embeddings (see `random_latents`)."""
    return decode(loaded, random_latents(loaded, segments_count, seed), qpm=qpm,
                  temperature=temperature, seed=seed)

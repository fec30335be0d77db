"""NSynth TFRecords without TensorFlow: the record framing and the `tf.train.Example` protobuf,
decoded by hand.

Record framing (little-endian): uint64 length, uint32 masked crc32c(length bytes), `length` bytes
of data, uint32 masked crc32c(data). Masking: ((crc >> 15) | (crc << 17)) + 0xa282ead8 mod 2**32.

`tf.train.Example` wire format: Example{1: Features}; Features{1: repeated map entry {1: key
string, 2: Feature}}; Feature is one of {1: BytesList, 2: FloatList, 3: Int64List}, each a
`repeated ... value = 1` (floats and ints normally packed).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.data.notes import (
    NSYNTH_SPECTRAL,
    BadDataReport,
    NoteMeta,
    NoteSource,
    fail_or_skip,
    note_from_fields,
)
from gansynth.errors import BadInputError

_CRC_TABLE = np.zeros(256, dtype=np.uint32)
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE[_i] = _c


def _crc32c_python(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE.tolist()
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _make_crc32c():  # type: ignore[no-untyped-def]
    """crc32c (Castagnoli) of bytes; compiled with numba (a librosa dependency) when available."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba ships with librosa
        return _crc32c_python

    @numba.njit(cache=True, nogil=True)
    def kernel(buf: np.ndarray, table: np.ndarray) -> int:  # pragma: no cover - compiled
        crc = np.uint32(0xFFFFFFFF)
        for byte in buf:
            crc = table[(crc ^ byte) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
        return int(crc ^ np.uint32(0xFFFFFFFF))

    def crc32c(data: bytes) -> int:
        return int(kernel(np.frombuffer(data, dtype=np.uint8), _CRC_TABLE))

    return crc32c


crc32c = _make_crc32c()


def masked_crc32c(data: bytes) -> int:
    """The TFRecord masked crc32c of `data`."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def scan_records(path: Path) -> list[tuple[int, int]]:
    """(data offset, data length) of every record, checking each length's crc; raises on bad framing."""
    records = []
    size = path.stat().st_size
    with path.open("rb") as handle:
        offset = 0
        while offset < size:
            header = handle.read(12)
            if len(header) < 12:
                raise BadInputError(f"{path}: truncated TFRecord header at byte {offset}; the file is "
                                    "cut short, copy it again")
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != length_crc:
                raise BadInputError(f"{path}: bad record length checksum at byte {offset}; not a "
                                    "TFRecord file, or corrupt")
            if offset + 16 + length > size:
                raise BadInputError(f"{path}: record at byte {offset} runs past the end of the file; "
                                    "the file is cut short, copy it again")
            records.append((offset + 12, length))
            offset += 16 + length
            handle.seek(offset)
    return records


def read_record(path: Path, offset: int, length: int, verify: bool = True) -> bytes:
    """The data of one record, checking its crc when `verify`."""
    with path.open("rb") as handle:
        handle.seek(offset)
        blob = handle.read(length + 4)
    data = blob[:length]
    if verify and masked_crc32c(data) != struct.unpack("<I", blob[length:])[0]:
        raise BadInputError(f"{path}: record at byte {offset - 12} fails its data checksum; corrupt file")
    return data


# ---------------------------------------------------------------------------------------------
# protobuf wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message: value is an int (varint / fixed) or bytes."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        out.append((number, wire, value))
    return out


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _feature_values(buf: bytes) -> list[bytes] | np.ndarray:
    """Decode a `Feature`: a list of bytes, a float32 array or an int64 array."""
    for kind, _, payload in _fields(buf):
        values = _fields(payload)
        if kind == 1:  # BytesList
            return [bytes(v) for n, w, v in values if n == 1 and w == 2]
        if kind == 2:  # FloatList: packed (wire 2) or one fixed32 per value (wire 5)
            floats = [np.frombuffer(v, dtype="<f4") for n, w, v in values if n == 1]
            return np.concatenate(floats) if floats else np.zeros(0, dtype=np.float32)
        if kind == 3:  # Int64List: packed varints (wire 2) or one varint per value (wire 0)
            ints: list[int] = []
            for n, w, v in values:
                if n != 1:
                    continue
                if w == 0:
                    ints.append(_signed64(v))
                else:
                    pos = 0
                    while pos < len(v):
                        item, pos = _varint(v, pos)
                        ints.append(_signed64(item))
            return np.asarray(ints, dtype=np.int64)
    return []


def parse_example(data: bytes) -> dict[str, list[bytes] | np.ndarray]:
    """A serialized `tf.train.Example` -> {feature name: list of bytes | float32 array | int64 array}."""
    features: dict[str, list[bytes] | np.ndarray] = {}
    for number, wire, payload in _fields(data):
        if number != 1 or wire != 2:
            continue
        for entry_number, entry_wire, entry in _fields(payload):
            if entry_number != 1 or entry_wire != 2:
                continue
            key, value = "", b""
            for n, _, v in _fields(entry):
                if n == 1:
                    key = bytes(v).decode("utf-8")
                elif n == 2:
                    value = v
            features[key] = _feature_values(value)
    return features


def example_to_fields(features: dict[str, list[bytes] | np.ndarray]) -> dict[str, Any]:
    """NSynth Example features -> the examples.json field dict (scalars unwrapped, strings decoded)."""
    out: dict[str, Any] = {}
    for key, values in features.items():
        if key == "audio":
            continue
        if isinstance(values, list):
            strings = [v.decode("utf-8") for v in values]
            out[key] = strings if key == "qualities_str" else (strings[0] if strings else "")
        elif key == "qualities":
            out[key] = [int(v) for v in values]
        elif len(values) == 1:
            out[key] = int(values[0])
        else:
            out[key] = values.tolist()
    return out


class NSynthTFRecord(NoteSource):
    """An NSynth TFRecord file of `tf.train.Example`s with `audio` as float samples (NSynth: 64000).

    The file is scanned once for record offsets and metadata (and audio lengths: short or long
    audio is counted in `report`, or with `strict` is bad data); `load_audio` rereads one record.
    sample_rate, note_length: what `load_audio` returns (the model's `SpectralConfig`).
    """

    def __init__(self, path: str | os.PathLike[str], skip_bad: bool = False,
                 strict: bool = False, sample_rate: int = NSYNTH_SPECTRAL.sample_rate,
                 note_length: int = NSYNTH_SPECTRAL.audio_length) -> None:
        self.path = Path(path)
        self.strict = strict
        self.sample_rate, self.note_length = sample_rate, note_length
        self.report = BadDataReport()
        report = self.report if skip_bad else None
        self._records: list[tuple[int, int]] = []
        self.notes: list[NoteMeta] = []
        seen: set[str] = set()
        from tqdm import tqdm

        records = scan_records(self.path)
        for offset, length in tqdm(records, desc="reading TFRecord metadata", unit="note",
                                   disable=len(records) < 5000, leave=False):
            where = f"{self.path} (record at byte {offset - 12})"
            try:
                features = parse_example(read_record(self.path, offset, length))
                fields = example_to_fields(features)
                note_str = fields.get("note_str")
                if not isinstance(note_str, str) or not note_str:
                    raise BadInputError(f"{where}: record has no note_str")
                meta = note_from_fields(note_str, fields, where)
            except ValueError as err:
                fail_or_skip(report, "bad record", f"{where}: not a valid tf.train.Example ({err})")
                continue
            except BadInputError as err:
                fail_or_skip(report, "bad metadata", str(err))
                continue
            if meta.note_str in seen:
                fail_or_skip(report, "duplicate id", f"{where}: note id {meta.note_str!r} appears "
                             "twice; ids must be unique (set data.skip_bad to keep the first)")
                continue
            seen.add(meta.note_str)
            audio = features.get("audio")
            if (isinstance(audio, np.ndarray) and audio.size and meta.sample_rate > 0
                    and not self.check_length(meta.note_str, audio.size, meta.sample_rate, where, report)):
                continue
            self.notes.append(meta)
            self._records.append((offset, length))

    def load_audio(self, i: int) -> np.ndarray:
        """Note i's audio: (note_length,) float32 at `sample_rate`."""
        offset, length = self._records[i]
        where = f"{self.path} (note {self.notes[i].note_str})"
        try:
            features = parse_example(read_record(self.path, offset, length))
        except ValueError as err:
            raise BadInputError(f"{where}: not a valid tf.train.Example ({err})") from err
        audio = features.get("audio")
        if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.size == 0:
            raise BadInputError(f"{where}: record has no float 'audio' feature")
        return self.fit(audio, self.notes[i].sample_rate, where, self.notes[i].note_str)

    def fingerprint(self) -> str:
        stat = self.path.stat()
        return f"tfrecord size {stat.st_size} mtime_ns {stat.st_mtime_ns}"

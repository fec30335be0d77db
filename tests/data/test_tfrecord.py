"""The TFRecord reader against files written by independent code: the `protobuf` package encodes
`tf.train.Example` (message types declared here from example.proto's field numbers) and
tensorboard's RecordWriter does the framing and masked crc32c."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference_crc
from tensorboard.summary.writer.record_writer import RecordWriter

from gansynth.config import DataConfig
from gansynth.data import FIXTURE_DIR
from gansynth.data.notes import select_notes
from gansynth.data.nsynth import NSynthFolder
from gansynth.data.tfrecord import NSynthTFRecord, masked_crc32c, parse_example
from gansynth.errors import BadInputError


def _example_class() -> Any:
    """tf.train.Example declared with the field numbers of tensorflow/core/example/*.proto."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="test_example.proto", package="tftest", syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]], oneof: str | None = None) -> Any:
        msg = fdp.message_type.add(name=name)
        if oneof:
            msg.oneof_decl.add(name=oneof)
        for fname, number, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name
            if oneof:
                field.oneof_index = 0
        return msg

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    message("BytesList", [("value", 1, F.TYPE_BYTES, rep, "")])
    message("FloatList", [("value", 1, F.TYPE_FLOAT, rep, "")])
    message("Int64List", [("value", 1, F.TYPE_INT64, rep, "")])
    message("Feature", [("bytes_list", 1, F.TYPE_MESSAGE, opt, ".tftest.BytesList"),
                        ("float_list", 2, F.TYPE_MESSAGE, opt, ".tftest.FloatList"),
                        ("int64_list", 3, F.TYPE_MESSAGE, opt, ".tftest.Int64List")], oneof="kind")
    features = message("Features", [("feature", 1, F.TYPE_MESSAGE, rep, ".tftest.Features.FeatureEntry")])
    entry = features.nested_type.add(name="FeatureEntry")
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=opt)
    entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=opt, type_name=".tftest.Feature")
    entry.options.map_entry = True
    message("Example", [("features", 1, F.TYPE_MESSAGE, opt, ".tftest.Features")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tftest.Example"))


Example = _example_class()


def _encode(fields: dict[str, Any], audio: np.ndarray) -> bytes:
    example = Example()
    feature = example.features.feature
    for key, value in fields.items():
        if isinstance(value, str):
            feature[key].bytes_list.value.append(value.encode())
        elif isinstance(value, list) and (not value or isinstance(value[0], str)):
            feature[key].bytes_list.value.extend(v.encode() for v in value)
        elif isinstance(value, list):
            feature[key].int64_list.value.extend(value)
        else:
            feature[key].int64_list.value.append(value)
    feature["audio"].float_list.value.extend(audio.tolist())
    return bytes(example.SerializeToString())


def write_fixture_tfrecord(path: Path, extra: list[bytes] = ()) -> NSynthFolder:  # type: ignore[assignment]
    folder = NSynthFolder(FIXTURE_DIR)
    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for i, meta in enumerate(folder.notes):
        writer.write(_encode(meta.to_json(), folder.load_audio(i)))
    for blob in extra:
        writer.write(blob)
    path.write_bytes(buffer.getvalue())
    return folder


def test_crc_matches_tensorboards() -> None:
    for data in (b"", b"a", b"123456789", bytes(range(256)) * 40):
        assert masked_crc32c(data) == reference_crc(data)


def test_tfrecord_notes_equal_the_json_wav_notes(tmp_path: Path) -> None:
    path = tmp_path / "nsynth-test.tfrecord"
    folder = write_fixture_tfrecord(path)
    records = NSynthTFRecord(path)
    assert records.notes == folder.notes  # every metadata field
    for i in (0, 17, 31):
        np.testing.assert_array_equal(records.load_audio(i), folder.load_audio(i))
    config = DataConfig(path=str(path), families=("keyboard",), velocities=(127,))
    indices, _ = select_notes(records.notes, config)
    assert [records.notes[i].note_str for i in indices] == [
        m.note_str for m in folder.notes if m.instrument_family_str == "keyboard" and m.velocity == 127]


def test_hand_decoder_reads_unpacked_and_negative_values() -> None:
    example = Example()
    example.features.feature["n"].int64_list.value.extend([-3, 2**40])
    example.features.feature["s"].bytes_list.value.append(b"x")
    parsed = parse_example(example.SerializeToString())
    assert parsed["n"].tolist() == [-3, 2**40] and parsed["s"] == [b"x"]
    # unpacked floats: field 1, wire type 5, one per value
    floats = b"".join(b"\x0d" + np.float32(v).tobytes() for v in (1.5, -2.0))
    feature = b"\x12" + bytes([len(floats)]) + floats  # Feature.float_list
    entry = b"\x0a\x01f" + b"\x12" + bytes([len(feature)]) + feature
    blob = b"\x0a" + bytes([len(entry) + 2]) + b"\x0a" + bytes([len(entry)]) + entry
    assert parse_example(blob)["f"].tolist() == [1.5, -2.0]


def test_corrupt_and_truncated_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.tfrecord"
    write_fixture_tfrecord(path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) - 1000]))
    with pytest.raises(BadInputError, match="bad.tfrecord: record at byte .* runs past the end"):
        NSynthTFRecord(path)
    data[300] ^= 0xFF  # inside the first record's data
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="fails its data checksum"):
        NSynthTFRecord(path)
    path.write_bytes(b"not a tfrecord at all")
    with pytest.raises(BadInputError, match="bad record length checksum"):
        NSynthTFRecord(path)


def test_duplicate_and_malformed_records(tmp_path: Path) -> None:
    path = tmp_path / "dup.tfrecord"
    folder = NSynthFolder(FIXTURE_DIR)
    duplicate = _encode(folder.notes[0].to_json(), folder.load_audio(0))
    fields = folder.notes[1].to_json()
    fields["note_str"] = "no-pitch"
    del fields["pitch"]
    malformed = _encode(fields, folder.load_audio(1))
    write_fixture_tfrecord(path, extra=[duplicate, malformed])
    with pytest.raises(BadInputError, match=r"dup.tfrecord \(record at byte \d+\): note id .* appears twice"):
        NSynthTFRecord(path)
    records = NSynthTFRecord(path, skip_bad=True)
    assert len(records) == 32
    assert records.report.counts == {"duplicate id": 1, "bad metadata": 1}


def test_short_audio_in_a_record_is_counted_or_refused_with_strict(tmp_path: Path) -> None:
    folder = NSynthFolder(FIXTURE_DIR)
    buffer = io.BytesIO()
    writer = RecordWriter(buffer)
    for i, meta in enumerate(folder.notes):
        audio = folder.load_audio(i)
        writer.write(_encode(meta.to_json(), audio[:1000] if i == 3 else audio))
    path = tmp_path / "short.tfrecord"
    path.write_bytes(buffer.getvalue())
    records = NSynthTFRecord(path)
    name = folder.notes[3].note_str
    assert records.report.fitted == {name: "short audio"} and len(records) == 32
    assert "zero-padded 1 notes (short audio)" in records.report.summary()
    assert records.load_audio(3)[1000:].sum() == 0
    with pytest.raises(BadInputError, match=r"short.tfrecord \(record at byte \d+\): short audio: 1000 "
                       r"samples at 16000 Hz .* \(strict mode\)"):
        NSynthTFRecord(path, strict=True)
    strict = NSynthTFRecord(path, strict=True, skip_bad=True)
    assert len(strict) == 31 and strict.report.counts == {"short audio": 1}

"""Checks the TensorBoard event file that test_loggers.cpp writes (its known_logs()) into
the folder given: the TFRecord framing and every masked CRC-32C, the Event and Summary
protobufs decoded here with the standard library only, and every tag, step and value;
then that the tensorboard package's own reader sees the same.
Usage: tensorboard_check.py LOGGING_DIR"""
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator

# The logs test_loggers.cpp writes, at their global step.
KNOWN_LOGS = [
    (10, [("loss", 2.3026), ("grad_norm", 1.5), ("learning_rate", 4.5e-05), ("epoch", 0.25)]),
    (20, [("loss", 1.125), ("grad_norm", 0.75), ("learning_rate", 4e-05), ("epoch", 0.5)]),
    (20, [("eval_loss", 1.25), ("eval_accuracy", 0.875), ("eval_runtime", 0.5),
          ("eval_samples_per_second", 1000.0), ("eval_steps_per_second", 31.25), ("epoch", 0.5)]),
    (40, [("test_loss", 1.3), ("test_accuracy", 0.86), ("epoch", 1.0)]),
    (40, [("train_runtime", 12.5), ("train_samples_per_second", 102.4), ("train_steps_per_second", 3.2),
          ("train_loss", 1.5), ("epoch", 1.0)]),
]


def rewrite_tag(name):
    """The Python Trainer's rewrite_logs, for one name."""
    for prefix in ("eval_", "test_"):
        if name.startswith(prefix):
            return prefix[:-1] + "/" + name[len(prefix):]
    return "train/" + name


def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def crc32c(data):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(data):
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        assert length_crc == masked(crc32c(header)), "bad length CRC at byte %d" % at
        payload = data[at + 12:at + 12 + length]
        assert len(payload) == length, "record at byte %d is cut short" % at
        (payload_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        assert payload_crc == masked(crc32c(payload)), "bad payload CRC at byte %d" % at
        yield payload
        at += 16 + length


def varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(message):
    """(field number, wire type, value) of each field of a protobuf message."""
    at = 0
    while at < len(message):
        key, at = varint(message, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, at = varint(message, at)
        elif wire_type == 1:
            value, at = message[at:at + 8], at + 8
        elif wire_type == 5:
            value, at = message[at:at + 4], at + 4
        elif wire_type == 2:
            length, at = varint(message, at)
            value, at = message[at:at + length], at + length
        else:
            raise AssertionError("unexpected wire type %d" % wire_type)
        yield number, wire_type, value


def decode_event(payload):
    """Event: wall_time (1, double), step (2, int64), file_version (3), summary (5)."""
    event = {"step": 0, "values": []}
    for number, wire_type, value in fields(payload):
        if (number, wire_type) == (1, 1):
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif (number, wire_type) == (2, 0):
            event["step"] = value
        elif (number, wire_type) == (3, 2):
            event["file_version"] = value.decode()
        elif (number, wire_type) == (5, 2):  # Summary: repeated Value value = 1
            for value_number, value_type, summary_value in fields(value):
                assert (value_number, value_type) == (1, 2)
                parts = {(n, t): v for n, t, v in fields(summary_value)}
                tag = parts[(1, 2)].decode()  # Value.tag
                simple_value = struct.unpack("<f", parts[(2, 5)])[0]  # Value.simple_value
                event["values"].append((tag, simple_value))
        else:
            raise AssertionError("unexpected Event field %d" % number)
    return event


def main(folder):
    files = [name for name in os.listdir(folder) if name.startswith("events.out.tfevents.")]
    assert len(files) == 1, "expected one event file in %s, found %s" % (folder, files)
    with open(os.path.join(folder, files[0]), "rb") as file:
        events = [decode_event(payload) for payload in records(file.read())]
    assert events[0].get("file_version") == "brain.Event:2", events[0]

    expected = [(step, rewrite_tag(name), float32(value)) for step, logs in KNOWN_LOGS for name, value in logs]
    found = [(event["step"], tag, value) for event in events[1:] for tag, value in event["values"]]
    assert found == expected, "\n".join("%s != %s" % pair for pair in zip(found, expected) if pair[0] != pair[1])
    wall_times = [event["wall_time"] for event in events]
    assert wall_times == sorted(wall_times), "wall times go back"
    print("%s: %d scalars, every CRC, tag, step and value as expected" % (files[0], len(found)))

    accumulator = event_accumulator.EventAccumulator(folder)
    accumulator.Reload()
    read = sorted((s.step, tag, s.value) for tag in accumulator.Tags()["scalars"] for s in accumulator.Scalars(tag))
    assert read == sorted(expected), (read, expected)
    print("tensorboard's EventAccumulator reads the same %d scalars" % len(read))


if __name__ == "__main__":
    main(sys.argv[1])

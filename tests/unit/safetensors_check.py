"""Checks the safetensors file that test_io.cpp writes (its known_tensors()): the layout as
the format's specification gives it, read here with the standard library only, and the
values, recomputed here; then that Python's safetensors package reads the same.
Usage: safetensors_check.py FILE"""
import json
import struct
import sys

from safetensors import safe_open

# The reference implementation's dtypes in increasing alignment order; files order tensors
# by this, largest first, then by name.
ALIGNMENT_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                   "I32", "U32", "F32", "F64", "I64", "U64"]
STRUCT_FORMAT = {"F64": "d", "F32": "f", "F16": "e", "BF16": "H", "I64": "q", "I32": "i",
                 "I16": "h", "I8": "b", "U8": "B", "BOOL": "B"}


def expected_tensors():
    """Name -> (dtype, shape, values in row-major order), as test_io.cpp makes them."""
    by_rows = [[row * 3 + column for column in range(3)] for row in range(4)]
    return {
        "f64": ("F64", [2, 3], [i / 3 for i in range(6)]),
        "f32": ("F32", [3, 4], [by_rows[r][c] for c in range(3) for r in range(4)]),  # transposed
        "f16": ("F16", [8], [i / 4 for i in range(8)]),
        "bf16": ("BF16", [8], [i - 3 for i in range(8)]),
        "i64": ("I64", [5], [i * 10**12 - 7 for i in range(5)]),
        "i32": ("I32", [6], list(range(-3, 3))),
        "i16": ("I16", [8], [i * 1000 for i in range(-4, 4)]),
        "i8": ("I8", [6], list(range(-128, 128, 51))),
        "u8": ("U8", [16], list(range(0, 256, 17))),
        "bool": ("BOOL", [7], [int(i % 3 == 0) for i in range(7)]),
        "scalar": ("F32", [], [3.5]),
        "empty": ("F32", [0, 3], []),
    }


def decode(dtype, raw):
    count = len(raw) // struct.calcsize(STRUCT_FORMAT[dtype])
    values = list(struct.unpack("<%d%s" % (count, STRUCT_FORMAT[dtype]), raw))
    if dtype == "BF16":  # the upper half of a float32
        values = [struct.unpack("<f", struct.pack("<I", v << 16))[0] for v in values]
    if dtype == "BOOL":
        assert all(v in (0, 1) for v in values), "BOOL bytes must be 0 or 1"
    return values


def check_layout_and_values(path):
    with open(path, "rb") as f:
        content = f.read()
    (length,) = struct.unpack("<Q", content[:8])
    assert length % 8 == 0, "header length %d is not a multiple of 8" % length
    text = content[8:8 + length].decode("utf-8")
    assert text.rstrip(" ").endswith("}"), "the header may be followed by spaces only"
    pairs = json.loads(text, object_pairs_hook=lambda items: items)
    header = dict(pairs)
    assert header.pop("__metadata__") == [("format", "pt")]
    expected = expected_tensors()
    assert set(header) == set(expected), sorted(header)

    order = [name for name, _ in pairs if name != "__metadata__"]
    reference_order = sorted(expected, key=lambda name: (-ALIGNMENT_ORDER.index(expected[name][0]), name))
    assert order == reference_order, order

    data = content[8 + length:]
    position = 0
    for name in order:
        entry = dict(header[name])
        dtype, shape, values = expected[name]
        assert entry["dtype"] == dtype and entry["shape"] == shape, (name, entry)
        begin, end = entry["data_offsets"]
        assert begin == position, "%s starts at %d, not right after the tensor before (%d)" % (name, begin, position)
        got = decode(dtype, data[begin:end])
        assert got == values, (name, got, values)
        position = end
    assert position == len(data), "%d bytes after the last tensor" % (len(data) - position)
    return len(order)


def check_with_safetensors_package(path):
    with safe_open(path, framework="numpy") as f:
        assert f.metadata() == {"format": "pt"}, f.metadata()
        expected = expected_tensors()
        assert set(f.keys()) == set(expected), sorted(f.keys())
        for name, (dtype, shape, values) in expected.items():
            if dtype == "BF16":  # numpy has no bfloat16
                continue
            tensor = f.get_tensor(name)
            assert list(tensor.shape) == shape, name
            assert [float(v) for v in tensor.flatten().tolist()] == [float(v) for v in values], name
    return "the safetensors package reads the same"


if __name__ == "__main__":
    count = check_layout_and_values(sys.argv[1])
    print("%s: %d tensors as written; %s" % (sys.argv[1], count, check_with_safetensors_package(sys.argv[1])))

#!/usr/bin/env python3
"""An independent safetensors reader for Plumb's interop test.

Parses the format by hand (struct + json; torch only to decode dtypes such as bfloat16, which
numpy lacks), checks the layout rules the format sets, and prints one JSON report on stdout:
  {"header_length": N, "key_order": [...], "metadata": {...},
   "tensors": {name: {"dtype", "shape", "data_offsets", "sum", "hex"}}}
"sum" is the float64 sum of the values, "hex" the raw little-endian bytes.

Usage: read_safetensors.py FILE
Exit status: 0 report printed; 2 the file breaks the format (reason on stderr);
3 python3 lacks torch or numpy (run scripts/setup.sh).
"""
import json
import math
import struct
import sys

try:
    import numpy  # noqa: F401  (torch's numpy bridge)
    import torch
except ImportError as error:
    print(f"python3 lacks torch/numpy ({error}): run scripts/setup.sh", file=sys.stderr)
    sys.exit(3)

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


class FormatError(Exception):
    pass


def reject_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise FormatError(f"duplicate keys in {keys}")
    return dict(pairs)


def decode(chunk, dtype, shape):
    if not chunk:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(chunk), dtype=dtype).reshape(shape)


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise FormatError("shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if 8 + header_length > len(raw):
        raise FormatError(f"header length {header_length} runs past the end")
    header_bytes = raw[8:8 + header_length]
    if not header_bytes.startswith(b"{"):
        raise FormatError("header does not start with '{'")
    header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=reject_duplicates)
    data = raw[8 + header_length:]
    metadata = header.pop("__metadata__", {})
    report = {"header_length": header_length, "key_order": list(header.keys()),
              "metadata": metadata, "tensors": {}}
    spans = []
    for name, entry in header.items():
        dtype = DTYPES[entry["dtype"]]
        shape = entry["shape"]
        begin, end = entry["data_offsets"]
        element_size = torch.empty((), dtype=dtype).element_size()
        if end - begin != math.prod(shape) * element_size or end > len(data):
            raise FormatError(f"tensor {name}: data_offsets {begin, end} do not fit its shape")
        chunk = data[begin:end]
        values = decode(chunk, dtype, shape)
        report["tensors"][name] = {
            "dtype": entry["dtype"], "shape": shape, "data_offsets": [begin, end],
            "sum": float(values.double().sum()), "hex": chunk.hex(),
        }
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin != covered:
            raise FormatError(f"tensor {name} starts at {begin}, expected {covered}")
        covered = end
    if covered != len(data):
        raise FormatError(f"tensors cover {covered} of {len(data)} data bytes")
    return report


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        report = read(sys.argv[1])
    except (FormatError, KeyError, ValueError) as error:
        print(f"{sys.argv[1]}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

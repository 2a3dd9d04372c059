#!/usr/bin/env python3
"""Writes a safetensors file by hand (struct + json + torch, no safetensors package) for Plumb's
interop test, laid out unlike Plumb's writer: header keys in reverse name order, data in an order
unrelated to the keys, no header padding. Prints {name: hex of the raw bytes} on stdout.

The C++ test rebuilds the same values; keep the two in sync.
Usage: write_safetensors.py OUT
Exit status 3: python3 lacks torch or numpy (run scripts/setup.sh).
"""
import json
import struct
import sys

try:
    import numpy  # noqa: F401  (torch's numpy bridge)
    import torch
except ImportError as error:
    print(f"python3 lacks torch/numpy ({error}): run scripts/setup.sh", file=sys.stderr)
    sys.exit(3)

NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
         torch.int64: "I64", torch.int32: "I32"}


def tensors():
    # Every value is exactly representable in its dtype, so C++ can rebuild it bit for bit.
    return {
        "embed.bf16": torch.tensor([[1.5, -2.25, 2.0 ** 100], [0.0078125, -0.0, -(2.0 ** -126)]],
                                   dtype=torch.bfloat16),
        "layer.f32": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7,
        "half.f16": torch.tensor([0.5, -1.0, 65504.0, 2.0 ** -24], dtype=torch.float16),
        "ids.i64": torch.tensor([2 ** 40 + 1, -3, 2 ** 53 + 1], dtype=torch.int64),
        "mask.i32": torch.tensor([[-1, 0], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32),
        "scalar.f32": torch.tensor(3.25, dtype=torch.float32),
        "empty.f32": torch.empty((0, 4), dtype=torch.float32),
    }


def raw_bytes(tensor):
    assert sys.byteorder == "little"
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        tensor = tensor.view(torch.int16)
    return tensor.contiguous().numpy().tobytes()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    named = tensors()
    header, data, report = {}, b"", {}
    # Data ordered by shape size, then name: unrelated to both the key order and Plumb's order.
    for name in sorted(named, key=lambda n: (named[n].numel(), n)):
        chunk = raw_bytes(named[name])
        header[name] = {"dtype": NAMES[named[name].dtype], "shape": list(named[name].shape),
                        "data_offsets": [len(data), len(data) + len(chunk)]}
        data += chunk
        report[name] = chunk.hex()
    ordered = {"__metadata__": {"format": "pt", "writer": "write_safetensors.py"}}
    ordered.update({name: header[name] for name in sorted(header, reverse=True)})
    header_bytes = json.dumps(ordered).encode("utf-8")
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

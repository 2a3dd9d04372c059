#!/usr/bin/python3
"""Writes the quickstart's prompts: the first words of each Debian fortune, split into training
and held-out prompts by a hash of the text (so the split is the same on every machine).

usage: make_quickstart_data.py FORTUNES_DIR OUT_DIR
"""
import hashlib
import json
import os
import sys


def fortunes(folder):
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if "." in name or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for block in f.read().split("\n%\n"):
                text = " ".join(block.split())
                if text:
                    yield text


def main():
    folder, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    seen = set()
    train, held_out = [], []
    for text in fortunes(folder):
        words = text.split(" ")
        if len(words) < 6:
            continue
        prompt = " ".join(words[:3])
        if prompt in seen:
            continue
        seen.add(prompt)
        digest = hashlib.sha256(prompt.encode()).digest()[0]
        (held_out if digest < 26 else train).append(prompt)  # about 10% held out
    for name, rows in (("train.jsonl", train), ("held_out.jsonl", held_out)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            for prompt in rows:
                f.write(json.dumps({"prompt": prompt}) + "\n")
    print(f"prompts: {len(train)} train, {len(held_out)} held out -> {out}")


if __name__ == "__main__":
    main()

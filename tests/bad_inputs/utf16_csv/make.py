"""A CSV saved as UTF-16 (Excel 'Unicode Text': starts with the bytes FF FE)."""

from __future__ import annotations


def make(dir):
    path = dir / "data" / "harm.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))

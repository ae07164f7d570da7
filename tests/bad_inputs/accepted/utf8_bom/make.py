"""A CSV starting with a UTF-8 byte-order mark (Excel's 'CSV UTF-8') is accepted."""

from __future__ import annotations


def make(dir):
    path = dir / "data" / "harm.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

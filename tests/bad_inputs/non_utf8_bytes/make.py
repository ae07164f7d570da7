"""The area lookup is cp1252 text (a 0xC1 byte) read as UTF-8."""

from __future__ import annotations


def make(dir):
    text = "area_code,area_name\nA1,\u00c1rea uno\nA2,Area A2\nA3,Area A3\nA4,Area A4\n"
    (dir / "data" / "areas.csv").write_bytes(text.encode("cp1252"))

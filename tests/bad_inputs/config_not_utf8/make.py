"""The config file is Latin-1 text (a 0xE9 byte)."""

from __future__ import annotations


def make(dir):
    text = (dir / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("Mini evaluation", "Mini \u00e9valuation")
    (dir / "config.yaml").write_bytes(text.encode("latin-1"))

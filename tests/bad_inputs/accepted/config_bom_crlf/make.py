"""A config saved by Windows Notepad (UTF-8 BOM, CRLF line endings) is accepted."""

from __future__ import annotations


def make(dir):
    text = (dir / "config.yaml").read_text(encoding="utf-8").replace("\n", "\r\n")
    (dir / "config.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))

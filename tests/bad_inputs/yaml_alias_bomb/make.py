"""A 'billion laughs' YAML alias bomb in the config."""

from __future__ import annotations


def make(dir):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    lines.append("name: *a8")
    (dir / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

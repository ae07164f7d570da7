"""YAML is read as data: no tags, bounded aliases and size, no duplicate keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluate.config.yaml_safe import MAX_BYTES, load_yaml, loads_yaml
from evaluate.errors import ConfigError


def test_plain_yaml_loads() -> None:
    assert loads_yaml("a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}


def test_python_object_tag_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ConfigError, match=r"YAML tag !!python/object/apply:os\.system is not allowed: configs are data, not code"):
        loads_yaml(text)
    assert not marker.exists()


def test_custom_tag_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"YAML tag !custom is not allowed"):
        loads_yaml("x: !custom 3\n")


def test_alias_bomb_is_refused() -> None:
    bomb = 'a: &a ["lol","lol"]\n' + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)
    )
    with pytest.raises(ConfigError, match="possible alias bomb"):
        loads_yaml(bomb)


def test_many_aliases_are_refused() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 150) + "]\n"
    with pytest.raises(ConfigError, match="more than 100 aliases"):
        loads_yaml(text)


def test_a_few_aliases_are_fine() -> None:
    assert loads_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        loads_yaml("a: &a [*a]\n")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate key 'a' \\(first at line 1\\)"):
        loads_yaml("a: 1\nb: 2\na: 3\n")


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"line 3, column 1: .*flow sequence at line 2"):
        loads_yaml("a: 1\nb: [1, 2\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found; check the path"):
        load_yaml(tmp_path / "nope.yaml")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="it is a folder"):
        load_yaml(tmp_path)


def test_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: '" + "x" * (MAX_BYTES + 10) + "'\n")
    with pytest.raises(ConfigError, match="more than the 2,000,000 allowed"):
        load_yaml(big)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 .*re-save it as UTF-8"):
        load_yaml(p)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert load_yaml(p) == {"name": "x"}

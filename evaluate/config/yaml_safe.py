"""Reading YAML as data, never as code.

Configs travel between organisations, so loading one must never run code or exhaust memory. This
loader is PyYAML's ``SafeLoader`` (no object tags: ``!!python/object`` is refused) with three more
guards: a cap on aliases (a "billion laughs" document expands exponentially through them), a cap
on file size, and refusal of duplicate mapping keys (PyYAML silently keeps the last, which would
hide a copy-paste mistake in a config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evaluate.errors import ConfigError

__all__ = ["MAX_ALIASES", "MAX_BYTES", "load_yaml", "loads_yaml"]

MAX_ALIASES = 100
"""Most aliases (``*name``) a document may use. Real configs use a handful."""

MAX_BYTES = 2_000_000
"""Largest YAML file read, in bytes."""

MAX_NODES = 200_000
"""Most nodes the document may expand to once aliases are followed (an alias bomb stays under
:data:`MAX_ALIASES` while expanding to millions of nodes)."""


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases (a possible alias bomb); write the values out "
                    "instead of repeating anchors",
                    event.start_mark,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hashable = key in seen
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"unhashable mapping key {key!r}", key_node.start_mark
                    ) from None
                if hashable:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key}' (first at line {seen[key].line + 1}); each key may "
                        "appear once in a mapping, remove or rename one",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            # PyYAML's own constructors fail with plain exceptions on impossible values, such as
            # the date 2020-02-30 or an empty `!!float`
            raise yaml.constructor.ConstructorError(
                None, None, _bad_value(node, exc), node.start_mark
            ) from None


_KINDS = {
    "tag:yaml.org,2002:timestamp": "date",
    "tag:yaml.org,2002:int": "whole number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "boolean (true or false)",
}


def _bad_value(node: Any, exc: Exception) -> str:
    """``'2020-02-30' is not a valid date (day is out of range for month); ...``."""
    value = node.value if isinstance(node, yaml.ScalarNode) else f"a {node.id}"
    kind = _KINDS.get(node.tag, f"value for tag {node.tag.replace('tag:yaml.org,2002:', '!!')}")
    dated = node.tag == "tag:yaml.org,2002:timestamp" and isinstance(exc, ValueError)
    detail = f" ({exc})" if dated and str(exc) else ""  # e.g. day is out of range for month
    return (
        f"{value!r} is not a valid {kind}{detail}; correct it, or put it in quotes to keep it "
        "as text"
    )


def _reader_error(source: str, text: str, exc: yaml.reader.ReaderError) -> ConfigError:
    """A character YAML does not allow (a control character), with its line and column."""
    pos = max(0, min(int(exc.position), len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return ConfigError(
        f"{source}: line {line}, column {column}: the character {char:#06x} is not allowed in "
        "YAML (a control character, often pasted from another program); delete it"
    )


def loads_yaml(text: str, *, source: str = "<string>") -> Any:
    """Parse YAML text safely.

    Parameters
    ----------
    text
        The document.
    source
        Name used in error messages (usually the file path).

    Returns
    -------
    Any
        Plain Python data: dicts, lists, strings, numbers, booleans, dates, ``None``.

    Raises
    ------
    ConfigError
        On syntax errors, object tags, too many aliases or duplicate keys, naming the line.
    """
    try:
        loader = _GuardedLoader(text)  # checks every character at once
    except yaml.reader.ReaderError as exc:
        raise _reader_error(source, text, exc) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, set())
        if size > MAX_NODES:
            raise ConfigError(
                f"{source}: the document expands to {size:,} values through its aliases, more than "
                f"the {MAX_NODES:,} allowed (a possible alias bomb); write the values out instead"
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in problem:
            tag = problem.split("tag", 1)[-1].strip(" '").replace("tag:yaml.org,2002:", "!!")
            problem = (
                f"YAML tag {tag} is not allowed: configs are data, not code; remove the tag and "
                "write the value as plain YAML"
            )
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            problem += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError(f"{source}: {at}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: the document is nested too deeply to be a config") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int], open_: set[int]) -> int:
    """Count the nodes of ``node`` with aliases expanded (shared nodes counted at each use).

    Raises ``ConstructorError`` for a recursive anchor (a node that contains itself).
    """
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise yaml.constructor.ConstructorError(
            None, None, "recursive alias (a value that contains itself)", node.start_mark
        )
    open_.add(key)
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo, open_) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(
            _expanded_size(k, memo, open_) + _expanded_size(v, memo, open_) for k, v in node.value
        )
    else:
        size = 1
    open_.discard(key)
    memo[key] = size
    return size


def load_yaml(path: Path, *, what: str = "config") -> Any:
    """Read and parse a YAML file safely.

    Parameters
    ----------
    path
        File to read.
    what
        What the file is, for messages ("config", "harm-index weights").

    Raises
    ------
    ConfigError
        If the file is missing, too large, not UTF-8, or not valid safe YAML.
    """
    path = Path(path)
    try:
        if not path.is_file():
            hint = " (it is a folder)" if path.is_dir() else ""
            raise ConfigError(f"{path}: {what} file not found{hint}; check the path")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"{path}: {what} file is {size:,} bytes, more than the {MAX_BYTES:,} allowed; a "
                f"{what} should be a short YAML file, put data in CSV or Parquet sources"
            )
        raw = path.read_bytes()
    except OSError as exc:  # permission denied, an I/O error
        raise ConfigError(
            f"{path}: cannot read the {what} file ({exc.strerror or exc}); check that you may "
            "read it"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: {what} file is not UTF-8 (bad byte {raw[exc.start]:#04x} at offset "
            f"{exc.start}); re-save it as UTF-8"
        ) from None
    return loads_yaml(text, source=str(path))

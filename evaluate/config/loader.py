"""Load an evaluation config: safe YAML, typed validation, messages that name the key and the fix."""

from __future__ import annotations

import hashlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evaluate.config.models import EvaluationConfig
from evaluate.config.yaml_safe import load_yaml
from evaluate.errors import ConfigError, plural, suggest

__all__ = ["LoadedConfig", "config_json_schema", "load_config", "parse_config"]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from.

    Attributes
    ----------
    model
        The validated :class:`EvaluationConfig`.
    path
        The config file (absolute), or ``None`` for a config built in memory.
    base_dir
        Folder that relative paths in the config are resolved against.
    sha256
        Hash of the config file's bytes (of the canonical JSON for in-memory configs).
    """

    model: EvaluationConfig
    path: Path | None
    base_dir: Path
    sha256: str

    def resolve(self, relative: str) -> Path:
        """Resolve a path from the config against the config file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def label(self) -> str:
        """The config's file name for messages."""
        return str(self.path) if self.path is not None else "<config>"


def load_config(path: str | Path) -> LoadedConfig:
    """Read and validate an evaluation config file.

    Parameters
    ----------
    path
        The YAML file. Relative paths inside it are resolved against its folder.

    Returns
    -------
    LoadedConfig

    Raises
    ------
    ConfigError
        With one line naming the file, the key, the bad value and the fix.
    """
    path = Path(path).expanduser().resolve()
    raw = load_yaml(path, what="config")
    model = parse_config(raw, source=str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return LoadedConfig(model=model, path=path, base_dir=path.parent, sha256=digest)


def parse_config(raw: Any, *, source: str = "<config>") -> EvaluationConfig:
    """Validate already-parsed YAML data as an :class:`EvaluationConfig`.

    Parameters
    ----------
    raw
        Data from a YAML document (normally a mapping).
    source
        File name used in messages.
    """
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"{source}: the config is {kind}; it must be a mapping with the keys name, title, "
            "data, interventions, harm_index, analyses, outputs (see configs/README.md)"
        )
    try:
        return EvaluationConfig.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(
            exc.errors(include_url=False),
            key=lambda e: (e["type"] != "extra_forbidden", _wrong_branch(e)),
        )
        first = _describe(errors[0], raw)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {first}{more}") from None


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of the config, generated from the models."""
    schema = EvaluationConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "evaluate config"
    return schema


# -- turning pydantic errors into one line ------------------------------------------------------


def _loc_text(loc: tuple[Any, ...], raw: Any) -> str:
    """``('analyses', 0, 'describe', 'x')`` -> ``analyses[0].x`` (dropping union tags)."""
    out = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif isinstance(node, dict):
            # a union tag such as 'describe' or a function-validator label: not a key the user wrote
            if isinstance(part, str) and (
                part.startswith("function-") or part in _union_tags() or _is_branch_label(part)
            ):
                continue
            out += f".{part}" if out else str(part)
            node = None
        elif not (isinstance(part, str) and _is_branch_label(part)):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _union_tags() -> set[str]:
    from evaluate.config.analyses import METHODS

    return set(METHODS)


def _model_classes() -> dict[str, type[BaseModel]]:
    """The config's model classes by name (pydantic names a union member by its class)."""
    from evaluate.config import analyses, models

    return {
        name: obj
        for module in (models, analyses)
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, BaseModel)
    }


def _is_branch_label(part: str) -> bool:
    """A union member's label in an error location (``literal['x']``, ``ComparisonOutcome``)."""
    return part.startswith("literal[") or part in _model_classes()


def _wrong_branch(err: dict[str, Any]) -> bool:
    """An error from the union member that does not fit the value's shape (a mapping tried
    against a literal, text tried against a model): reported after the member that fits."""
    value = err.get("input")
    if err.get("type") == "literal_error":
        return isinstance(value, dict | list)
    if err.get("type") in ("model_type", "model_attributes_type", "dict_type"):
        return isinstance(value, str)
    return False


def _model_at(loc: tuple[Any, ...], raw: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (for listing its valid keys)."""
    tp: Any = EvaluationConfig
    node = raw
    for part in loc:
        tp = _unwrap(tp, node)
        if isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else Any
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                # union tag in the loc: pick the member whose method literal matches
                if part in _union_tags():
                    continue
                return None
            tp = tp.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
        elif isinstance(part, str) and part in _model_classes():
            tp = _model_classes()[part]  # the union member pydantic tried
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
            node = node.get(part) if isinstance(node, dict) else None
        else:
            return None
    tp = _unwrap(tp, node)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional; pick the union member a discriminated mapping selects."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            method = node.get("method") if isinstance(node, dict) else None
            for m in members:
                field = getattr(m, "model_fields", {}).get("method")
                if field is not None and method in typing.get_args(field.annotation):
                    return m
            return members[0]
        else:
            return tp


_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _describe(err: dict[str, Any], raw: Any) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    value = err.get("input")
    at = _loc_text(loc, raw)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1], raw)
        valid = list(model.model_fields) if model is not None else []
        hint = suggest(key, valid)
        listing = f"; valid keys here: {', '.join(valid)}" if valid else ""
        return f"{at}: unknown key '{key}'{hint}{listing}"
    if kind == "missing":
        return f"{at}: required key '{loc[-1]}' is missing; add it (see configs/README.md)"
    if kind == "union_tag_invalid":
        from evaluate.config.analyses import METHODS

        tag = (err.get("ctx") or {}).get("tag", value)
        return (
            f"{at}.method: unknown method '{tag}'{suggest(str(tag), METHODS)}; expected one of "
            f"({', '.join(METHODS)})"
        )
    if kind == "union_tag_not_found":
        from evaluate.config.analyses import METHODS

        return f"{at}: required key 'method' is missing; set it to one of ({', '.join(METHODS)})"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        return f"{at}: expected one of ({', '.join(options)}), got {value!r}{suggest(str(value), options)}"
    if kind in _TYPE_WORDS:
        return f"{at}: expected {_TYPE_WORDS[kind]}, got {value!r}; fix the value's type"
    if kind == "string_pattern_mismatch":
        return (
            f"{at}: {value!r} is not a valid name; use letters, digits and underscores, "
            "starting with a letter"
        )
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return msg if not loc else f"{at}: {msg}"
    ctx = err.get("ctx") or {}
    bounds = {
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "too_short": f"needs at least {plural(int(ctx.get('min_length', 1) or 1), 'item')}",
        "string_too_short": "must not be empty",
        "too_long": f"has more than {plural(int(ctx.get('max_length', 0) or 0), 'item')}",
        "string_too_long": f"is longer than {plural(int(ctx.get('max_length', 0) or 0), 'character')}",
    }
    if kind in bounds:
        hint = _HINTS.get(str(loc[-1]) if loc else "", "")
        return f"{at}: {bounds[kind]}, got {value!r}{hint}"
    return f"{at}: {err.get('msg', 'invalid value')} (got {value!r})"


_HINTS = {
    "ci_level": " (a proportion such as 0.95, not a percentage)",
    "min_count": " (counts below it are suppressed in published outputs)",
}

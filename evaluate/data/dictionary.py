"""The data dictionary: variables, keys and entities read from ``data_dictionary/*.yaml``.

The dictionary is the single source of variable names, roles, units and valid ranges. Validation
(:mod:`evaluate.data.validate`) is generated from it, and ``evaluate dictionary`` prints it with
:func:`to_markdown`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluate.config.yaml_safe import load_yaml
from evaluate.errors import ConfigError, suggest

__all__ = [
    "Role",
    "ROLES",
    "OUTCOME_ROLES",
    "Suppression",
    "Variable",
    "Key",
    "Entity",
    "Dictionary",
    "dictionary_dir",
    "load_dictionary",
    "to_markdown",
]

Role = Literal["activity", "harm", "benefit", "denominator", "covariate"]
ROLES: tuple[str, ...] = ("activity", "harm", "benefit", "denominator", "covariate")
OUTCOME_ROLES: tuple[str, ...] = ("activity", "harm", "benefit")
"""Roles of series an intervention can be evaluated against (activity is labelled as such)."""

_Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Suppression(_Model):
    """Markers for suppressed small counts and the range a suppressed cell lies in."""

    markers: tuple[str, ...] = Field(min_length=1)
    lower: float = Field(0, ge=0)
    upper: float = Field(ge=0)


class Variable(_Model):
    """One variable: what it is, what role it plays and which values are valid."""

    name: _Name
    label: str
    description: str
    role: Role
    unit: str
    type: Literal["count", "rate", "proportion", "continuous"]
    valid_range: tuple[float | None, float | None] = (None, None)
    aggregation: Literal["sum", "mean", "stock"]
    frequency: tuple[str, ...] = ()
    geography: tuple[str, ...] = ()
    suppression: Suppression | None = None
    sources: tuple[str, ...] = ()
    notes: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        lo, hi = self.valid_range
        if lo is not None and hi is not None and hi < lo:
            raise ValueError(f"valid_range max {hi} is below min {lo}")
        if self.type == "count" and self.aggregation == "mean":
            raise ValueError("a count cannot have aggregation 'mean'; use 'sum' or 'stock'")
        return self

    @property
    def is_count(self) -> bool:
        """True for non-negative integer counts (the only series that have rates)."""
        return self.type == "count"


class Key(_Model):
    """A key column (area code, period): it locates values, it has no role."""

    name: _Name
    label: str
    description: str
    type: Literal["identifier", "label", "period"]


class Entity(_Model):
    """A source shape: its key columns and the roles of the variables it may carry."""

    name: _Name
    description: str
    keys: tuple[str, ...]
    optional: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ()
    frequency: Literal["week", "month", "quarter", "year", "financial_year"] | None = None

    @property
    def is_series(self) -> bool:
        """True if rows are area x period observations (not a lookup or adoption table)."""
        return "period" in self.keys


class _File(_Model):
    variables: tuple[Variable, ...] = ()
    keys: tuple[Key, ...] = ()
    entities: tuple[Entity, ...] = ()


class Dictionary:
    """All variables, keys and entities, with lookups by name.

    Parameters
    ----------
    variables, keys, entities
        Definitions, each name unique across the dictionary.
    files
        The YAML files read, for the manifest and messages.
    """

    def __init__(
        self,
        variables: list[Variable],
        keys: list[Key],
        entities: list[Entity],
        files: list[Path],
    ) -> None:
        self.variables: dict[str, Variable] = {v.name: v for v in variables}
        self.keys: dict[str, Key] = {k.name: k for k in keys}
        self.entities: dict[str, Entity] = {e.name: e for e in entities}
        self.files = files

    def variable(self, name: str, *, context: str = "") -> Variable:
        """Look up a variable, with a suggestion if the name is unknown."""
        try:
            return self.variables[name]
        except KeyError:
            where = f"{context}: " if context else ""
            raise ConfigError(
                f"{where}'{name}' is not in the data dictionary{suggest(name, self.variables)}; "
                "run `evaluate dictionary` for the list, or add it under data.dictionary"
            ) from None

    def entity(self, name: str, *, context: str = "") -> Entity:
        """Look up an entity, listing the valid ones if the name is unknown."""
        try:
            return self.entities[name]
        except KeyError:
            where = f"{context}: " if context else ""
            raise ConfigError(
                f"{where}unknown entity '{name}'{suggest(name, self.entities)}; expected one of "
                f"({', '.join(self.entities)})"
            ) from None

    def variables_for(self, entity: Entity) -> list[Variable]:
        """Variables a source of this entity may carry, in dictionary order."""
        return [v for v in self.variables.values() if v.role in entity.roles]

    def by_role(self, role: str) -> list[Variable]:
        """Variables with the given role, in dictionary order."""
        return [v for v in self.variables.values() if v.role == role]


def dictionary_dir() -> Path:
    """Folder of the packaged data dictionary.

    Wheels carry it inside the package (``evaluate/data_dictionary``); a source checkout (and an
    editable install) reads the repository's ``data_dictionary/`` directly.
    """
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "data_dictionary", package.parent / "data_dictionary"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    raise ConfigError(
        f"the data dictionary was not found next to the package ({package}); reinstall evaluate"
    )


def load_dictionary(extra: Path | None = None) -> Dictionary:
    """Read the packaged dictionary, plus a folder of extra definitions if given.

    Parameters
    ----------
    extra
        A folder of YAML files with more ``variables``, ``keys`` or ``entities``. They may not
        redefine a packaged name.

    Raises
    ------
    ConfigError
        If a file is malformed or a name is defined twice.
    """
    base = _load_folder(dictionary_dir())
    if extra is None:
        return base
    if not extra.is_dir():
        raise ConfigError(f"data.dictionary: folder not found: {extra}; check the path")
    more = _load_folder(extra.resolve())
    for kind in ("variables", "keys", "entities"):
        clash = set(getattr(base, kind)) & set(getattr(more, kind))
        if clash:
            raise ConfigError(
                f"data.dictionary ({extra}): {kind} {sorted(clash)} are already defined in the "
                "packaged dictionary; choose new names"
            )
    return Dictionary(
        [*base.variables.values(), *more.variables.values()],
        [*base.keys.values(), *more.keys.values()],
        [*base.entities.values(), *more.entities.values()],
        [*base.files, *more.files],
    )


@lru_cache(maxsize=8)
def _load_folder(folder: Path) -> Dictionary:
    variables: list[Variable] = []
    keys: list[Key] = []
    entities: list[Entity] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{folder}: no data-dictionary YAML files found")
    seen: dict[tuple[str, str], Path] = {}  # columns (variables, keys) and entities: two namespaces
    for f in files:
        raw = load_yaml(f, what="data-dictionary") or {}
        try:
            parsed = _File.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{f}: {loc}: {err['msg']} (got {err.get('input')!r})") from None
        items = [("column", i.name) for i in (*parsed.variables, *parsed.keys)]
        items += [("entity", e.name) for e in parsed.entities]
        for item in items:
            if item in seen:
                raise ConfigError(
                    f"{f}: {item[0]} '{item[1]}' is defined twice (also in {seen[item].name}); "
                    "names must be unique across the dictionary"
                )
            seen[item] = f
        variables += parsed.variables
        keys += parsed.keys
        entities += parsed.entities
    names = {v.name for v in variables} | {k.name for k in keys}
    for e in entities:
        for col in (*e.keys, *e.optional, *e.required):
            if col not in names:
                raise ConfigError(f"{folder}: entity '{e.name}' uses undefined column '{col}'")
    return Dictionary(variables, keys, entities, files)


def to_markdown(d: Dictionary) -> str:
    """Render the dictionary as Markdown (what ``evaluate dictionary`` prints)."""
    lines = ["# Data dictionary", ""]
    lines += [
        "Roles: **activity** is what the police did (never a harm outcome); **harm** and",
        "**benefit** are the outcomes; **denominator** gives rates; **covariate** adjusts.",
        "",
    ]
    for role in ROLES:
        vs = d.by_role(role)
        if not vs:
            continue
        lines += [f"## {role.capitalize()}", ""]
        for v in vs:
            lo, hi = v.valid_range
            rng = f"{_num(lo)} to {_num(hi) if hi is not None else 'no maximum'}"
            sup = (
                f"markers {', '.join(f'`{m}`' for m in v.suppression.markers)}; a suppressed cell "
                f"lies in {_num(v.suppression.lower)}-{_num(v.suppression.upper)}"
                if v.suppression
                else "none"
            )
            lines += [
                f"### `{v.name}`: {v.label}",
                "",
                v.description.strip(),
                "",
                "| field | value |",
                "| --- | --- |",
                f"| role | {v.role} |",
                f"| unit | {v.unit} |",
                f"| type | {v.type} |",
                f"| valid range | {rng} |",
                f"| aggregation over periods | {v.aggregation} |",
                f"| frequency | {', '.join(v.frequency) or '-'} |",
                f"| geography | {', '.join(v.geography) or '-'} |",
                f"| suppression | {sup} |",
                f"| typical sources | {'; '.join(v.sources) or '-'} |",
                "",
            ]
    lines += ["## Key columns", "", "| name | label | description |", "| --- | --- | --- |"]
    for k in d.keys.values():
        lines.append(f"| `{k.name}` | {k.label} | {' '.join(k.description.split())} |")
    lines += ["", "## Entities (source shapes)", ""]
    lines += ["| entity | keys | optional | roles of its variables | default frequency |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for e in d.entities.values():
        lines.append(
            f"| `{e.name}` | {', '.join(e.keys)} | {', '.join((*e.required, *e.optional)) or '-'} "
            f"| {', '.join(e.roles) or '-'} | {e.frequency or '-'} |"
        )
    lines.append("")
    return "\n".join(lines)


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"

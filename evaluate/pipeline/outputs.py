"""Writing the output folder atomically, and the run manifest.

A run writes into a hidden temporary folder beside the destination
(``.<name>.partial-<random>``) and moves it into place only when every file, the manifest last,
has been written. A run that fails, or is killed, leaves the previous output folder untouched; a
killed run may leave its ``.partial`` folder, which never looks complete (it has no manifest until
the very end, and its name says what it is) and is removed by the next run.

``run`` never deletes a folder it did not create: an existing destination must be empty or hold
an ``evaluate`` manifest.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evaluate.errors import OutputError

__all__ = ["OutputFolder", "check_destination", "package_versions", "write_json", "MANIFEST", "GENERATOR"]

MANIFEST = "manifest.json"
GENERATOR = "evaluate"
_PARTIAL = ".partial-"


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results."""
    out = {"python": platform.python_version()}
    for name in (
        "evaluate", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "matplotlib",
        "pyarrow", "pydantic", "PyYAML", "Jinja2",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _is_ours(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def check_destination(dest: Path, inputs: list[Path], *, context: str) -> None:
    """Refuse destinations that could lose a user's files, before any work is done.

    Parameters
    ----------
    dest
        The output folder.
    inputs
        Every input file of the run (the config, sources, weights).
    context
        What set the destination (``"outputs.dir"`` or ``"--out"``), for messages.

    Raises
    ------
    OutputError
        If the destination is a file, contains an input file (anywhere below it), is not empty
        and was not created by evaluate, or cannot be written.
    """
    dest = dest.resolve()
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{context}: '{dest}' is a file, not a folder; choose a folder path")
    for f in inputs:
        f = f.resolve()
        if f == dest or dest in f.parents:
            raise OutputError(
                f"{context}: the output folder '{dest}' contains the input file '{f}'; "
                "choose a separate folder for outputs (a run replaces the whole folder)"
            )
    if dest.is_dir() and any(dest.iterdir()) and not _is_ours(dest):
        raise OutputError(
            f"{context}: '{dest}' is not empty and has no evaluate {MANIFEST}; evaluate only "
            "replaces folders it created, choose an empty or new folder"
        )
    parent = dest.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{context}: cannot write in '{probe}'; choose a folder you can write to")


@dataclass
class OutputFolder:
    """A temporary folder that becomes the destination only when :meth:`commit` is called.

    Use as a context manager: leaving the block without committing removes the temporary folder.
    """

    dest: Path
    tmp: Path | None = None

    def __enter__(self) -> OutputFolder:
        self.dest = self.dest.resolve()
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.dest.parent.glob(f".{self.dest.name}{_PARTIAL}*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        self.tmp = Path(
            tempfile.mkdtemp(prefix=f".{self.dest.name}{_PARTIAL}", dir=self.dest.parent)
        )
        return self

    @property
    def path(self) -> Path:
        """The temporary folder to write into."""
        if self.tmp is None:
            raise RuntimeError("OutputFolder used outside its context")
        return self.tmp

    def commit(self) -> Path:
        """Move the finished folder into place (replacing a previous evaluate output)."""
        tmp = self.path
        old: Path | None = None
        if self.dest.exists():
            if any(self.dest.iterdir()) and not _is_ours(self.dest):
                raise OutputError(
                    f"'{self.dest}' changed during the run and is no longer an evaluate output; "
                    "nothing was replaced"
                )
            old = self.dest.parent / f".{self.dest.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            os.replace(self.dest, old)
        os.replace(tmp, self.dest)
        self.tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.dest

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def write_json(path: Path, content: Any) -> None:
    """Write JSON with sorted keys and a final newline (stable across runs)."""
    path.write_text(
        json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)
        + "\n",
        encoding="utf-8",
    )


def now_utc() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def command_line() -> str:
    """The command that started this process."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])

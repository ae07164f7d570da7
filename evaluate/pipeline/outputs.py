"""Writing the output folder atomically, and the run manifest.

A run writes into a hidden temporary folder beside the destination
(``.<name>.partial-<random>``) and moves it into place only when every file, the manifest last,
has been written. A run that fails, or is killed, leaves the previous output folder untouched; a
killed run may leave its ``.partial`` folder, which never looks complete (it has no manifest until
the very end, and its hidden name says what it is) and is removed by the next run. On Linux the
move into place is one atomic swap (``renameat2``), so the destination always holds a complete
output; elsewhere the previous output is moved aside first, and put back by the next run if a
run is killed between the two moves. A live run locks its temporary folder (``flock``), so a
second run to the same destination never removes it. Operating-system errors (a parent that is a
file, permission denied, a full disk) become :class:`~evaluate.errors.OutputError`.

``run`` never deletes a folder it did not create: an existing destination must be empty or hold
an ``evaluate`` manifest.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Self

from evaluate.errors import OutputError

__all__ = [
    "GENERATOR", "MANIFEST", "OutputFolder", "check_destination", "package_versions", "write_json"
]

MANIFEST = "manifest.json"
GENERATOR = "evaluate"
_PARTIAL = ".partial-"
_OLD = ".old-"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results."""
    out = {"python": platform.python_version()}
    for name in (
        "evaluate", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "matplotlib",
        "pyarrow", "pydantic", "PyYAML", "Jinja2", "openpyxl",
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


_EDQUOT = getattr(errno, "EDQUOT", errno.ENOSPC)  # disk quota exceeded (not on Windows)

_FIXES = {
    errno.EACCES: "check you may write there, or choose another folder",
    errno.EPERM: "check you may write there, or choose another folder",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.ENOSPC: "the disk is full; free some space and run again",
    _EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EFBIG: "a file is too large for the file system; choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a part of the path is a file, not a folder; choose another path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    errno.ELOOP: "the path has a symbolic-link loop; choose another path",
}
"""What to do about the operating-system errors a user's environment causes."""


def _os_error(
    context: str, dest: Path, doing: str, exc: OSError, *, after: str = ""
) -> OutputError:
    """An :class:`OutputError` for an operating-system error: where, what, and the fix."""
    target = f" '{exc.filename}'" if exc.filename and str(exc.filename) != str(dest) else ""
    reason = exc.strerror or type(exc).__name__
    fix = _FIXES.get(exc.errno or 0, "check the folder and run again")
    return OutputError(f"{context}: cannot {doing} '{dest}' ({reason}{target}){after}; {fix}")


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
        and was not created by evaluate, lies under a file, or cannot be written.
    """
    try:
        _check_destination(dest.resolve(), inputs, context=context)
    except OSError as exc:
        raise _os_error(context, dest, "use the output folder", exc) from None


def _check_destination(dest: Path, inputs: list[Path], *, context: str) -> None:
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
    probe = dest.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"{context}: cannot create the output folder '{dest}': '{probe}' is a file, not a "
            "folder; choose an output path under a folder"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{context}: cannot write in '{probe}'; choose a folder you can write to")


# -- leftovers of killed runs ---------------------------------------------------------------------
#
# A run holds an exclusive flock(2) on its temporary folder (and on the previous output while it
# moves it aside) for as long as it lives; the operating system releases it when the process ends,
# SIGKILL included. A leftover whose lock can be taken belongs to no live run and is cleaned up;
# a folder of a run still writing (two runs to one destination) is left alone. Where flock is not
# available (Windows) every leftover counts as stale.


def _lock(folder: Path) -> int | None:
    """Open ``folder`` and take its exclusive lock without waiting; return the descriptor.

    Returns ``None`` where locks are not available. Raises ``BlockingIOError`` if another
    process (or another open descriptor) holds the lock.
    """
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError:  # the file system has no locks (some network file systems)
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the lock


def _leftovers(dest: Path, kind: str) -> list[Path]:
    """This destination's ``.<name><kind>*`` folders (plain folders only, never symlinks)."""
    prefix = f".{dest.name}{kind}"
    try:
        found = [p for p in dest.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    return sorted(p for p in found if p.is_dir() and not p.is_symlink())


def _clean_leftovers(dest: Path) -> None:
    """Remove what killed runs left beside ``dest``; put back a previous output left aside.

    ``.<name>.old-*`` is a previous output moved aside by a run killed in the middle of replacing
    it (only where an atomic exchange is not available): if ``dest`` is missing it is moved back,
    otherwise removed. ``.<name>.partial-*`` folders are unfinished runs and are removed.
    """
    for kind in (_OLD, _PARTIAL):
        for folder in _leftovers(dest, kind):
            try:
                fd = _lock(folder)
            except BlockingIOError:
                continue  # a live run is using it
            except OSError:
                continue  # vanished or unreadable: not ours to touch
            try:
                if kind == _OLD and not os.path.lexists(dest) and _is_ours(folder):
                    os.rename(folder, dest)
                else:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass
            finally:
                _unlock(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns ``False`` where that is not supported.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel, or a file system without the flag
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@dataclass
class OutputFolder:
    """A temporary folder that becomes the destination only when :meth:`commit` is called.

    Use as a context manager: leaving the block without committing removes the temporary folder.
    Operating-system errors (a parent that is a file, permission denied, a full disk) while the
    folder is created, written or moved into place become :class:`OutputError`; the previous
    output is then untouched.
    """

    dest: Path
    tmp: Path | None = None
    context: str = "output folder"
    """What chose the destination, for messages (``"--out"``, ``"<config>: outputs.dir"``)."""
    _fd: int | None = field(default=None, repr=False)

    def __enter__(self) -> Self:
        self.dest = self.dest.resolve()
        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(self.context, self.dest.parent, "create the folder", exc) from None
        _clean_leftovers(self.dest)
        for _ in range(100):
            # os.mkdir, unlike tempfile.mkdtemp (0700), gives the folder the user's usual
            # permissions (umask), so a shared output folder stays readable by the team
            tmp = self.dest.parent / f".{self.dest.name}{_PARTIAL}{secrets.token_hex(4)}"
            try:
                os.mkdir(tmp)
            except FileExistsError:
                continue
            except OSError as exc:
                raise _os_error(
                    self.context, self.dest, "create a temporary folder beside", exc
                ) from None
            try:
                self._fd = _lock(tmp)
            except (BlockingIOError, FileNotFoundError):
                continue  # another run's clean-up took it for a leftover (and removes it)
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                raise _os_error(
                    self.context, self.dest, "lock a temporary folder beside", exc
                ) from None
            self.tmp = tmp
            return self
        raise OutputError(f"{self.context}: cannot create a temporary folder beside '{self.dest}'")

    @property
    def path(self) -> Path:
        """The temporary folder to write into."""
        if self.tmp is None:
            raise RuntimeError("OutputFolder used outside its context")
        return self.tmp

    def commit(self) -> Path:
        """Move the finished folder into place (replacing a previous evaluate output).

        Where the operating system can swap two folders atomically (Linux), the destination is
        never missing: it holds either the previous output or the new one. Elsewhere the previous
        output is moved aside first; a run killed between the two moves leaves it as
        ``.<name>.old-*``, which the next run moves back.
        """
        tmp = self.path
        try:
            self._commit(tmp)
        except OSError as exc:
            raise _os_error(
                self.context, self.dest, "move the new output into", exc,
                after="; the previous output was not replaced",
            ) from None
        self.tmp = None
        _unlock(self._fd)
        self._fd = None
        return self.dest

    def _commit(self, tmp: Path) -> None:
        if not self.dest.exists():
            os.rename(tmp, self.dest)
            return
        if any(self.dest.iterdir()) and not _is_ours(self.dest):
            raise OutputError(
                f"{self.context}: '{self.dest}' changed during the run and is no longer an "
                "evaluate output; nothing was replaced, move its files away and run again"
            )
        if _exchange(tmp, self.dest):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous output
            return
        old = self.dest.parent / f".{self.dest.name}{_OLD}{tmp.name.rsplit('-', 1)[-1]}"
        try:
            fd = _lock(self.dest)  # moved aside with the lock held: no other run removes it
        except BlockingIOError:
            raise OutputError(
                f"{self.context}: another evaluate run is replacing '{self.dest}' right now; "
                "wait for it to finish and run again"
            ) from None
        try:
            os.rename(self.dest, old)
            os.rename(tmp, self.dest)
        except OSError:
            if not os.path.lexists(self.dest) and os.path.isdir(old):
                os.rename(old, self.dest)  # put the previous output back
            raise
        finally:
            _unlock(fd)
        shutil.rmtree(old, ignore_errors=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        _unlock(self._fd)
        self._fd = None
        if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
            raise _os_error(
                self.context, self.dest, "write the output folder", exc,
                after="; nothing was replaced",
            ) from exc


_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, _EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
)
"""Errors of the environment (disk full, read-only, no permission) while the folder is written:
reported as :class:`OutputError`. Any other ``OSError`` inside the block is a bug and propagates."""


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

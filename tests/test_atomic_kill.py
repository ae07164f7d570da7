"""Atomic outputs: a run killed part-way never damages the previous output folder.

``evaluate run`` is started as a real process writing into a folder that already holds a complete
previous run, and killed with SIGKILL at several points of writing its temporary
``.<name>.partial-*`` folder. Polling for that folder (and for files appearing in it) decides when
to kill; the window it is open is seconds long (charts, report), so the kill lands inside it. Two
points that polling cannot reach (after the manifest is written, between the two moves of a
commit) are reached by a small driver script that pauses the process there: the hook lives in the
test, not in the product.

After every kill: the previous output is byte-for-byte intact (or, once the commit's atomic swap
has happened, replaced by the complete new output), nothing that is not hidden and named
``.partial``/``.old`` was left, and the next run succeeds and removes the leftovers.

The end of the file checks the clean-up rules and the operating-system failures of the output
folder (a parent that is a file, permission denied, a full disk) directly.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from evaluate.cli import main
from evaluate.errors import OutputError
from evaluate.pipeline import outputs
from evaluate.pipeline.outputs import MANIFEST, OutputFolder, check_destination
from tests.conftest import BASE_CONFIG, BASE_FILES

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")

POLL = 0.002  # seconds between looks at the folder
LIMIT = 120  # seconds a stage may take before the test gives up (a hang, not a timing check)

DRIVER = r'''
"""Run `evaluate` and pause for good at one point of writing the output folder."""
import os, sys, time
from pathlib import Path

import evaluate.pipeline.outputs as outputs

marker, stage, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]


def pause(note):
    marker.write_text(note)
    time.sleep(3600)


if stage == "before_commit":
    def commit(self):
        pause(str(self.path))
    outputs.OutputFolder.commit = commit
elif stage == "after_swap":
    swap = outputs._exchange

    def exchange(a, b):
        done = swap(a, b)
        if done:
            pause(str(a))
        return done
    outputs._exchange = exchange
elif stage == "between_moves":
    outputs._exchange = lambda a, b: False  # the fallback used where no atomic swap exists
    rename = os.rename

    def paused_rename(src, dst, *args, **kwargs):
        rename(src, dst, *args, **kwargs)
        if ".old-" in os.fspath(dst):
            pause(os.fspath(dst))
    os.rename = paused_rename
else:
    raise SystemExit(f"unknown stage {stage}")

from evaluate.cli import main

sys.exit(main(argv))
'''


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder``: folders as ``dir``, files as their sha256."""
    return {
        p.relative_to(folder).as_posix(): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


def _write_project(root: Path) -> Path:
    for rel, text in BASE_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(BASE_CONFIG, sort_keys=False), encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project and a complete output of it (the 'previous run' a killed run must not harm)."""
    root = tmp_path_factory.mktemp("atomic")
    config = _write_project(root / "project")
    out = root / "previous"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    return config, out


@pytest.fixture
def setup(previous: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A fresh copy of the previous output at ``tmp_path/out``: (config, out, its snapshot)."""
    config, prev = previous
    out = tmp_path / "work" / "out"
    shutil.copytree(prev, out)
    return config, out, _snapshot(out)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}


def _wait(proc: subprocess.Popen[bytes], ready: Any, what: str) -> Any:
    """Poll until ``ready()`` gives something truthy; fail if the process ends first."""
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        found = ready()
        if found:
            return found
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(
                f"the run ended (exit {proc.returncode}) before {what}:\n{err.decode()[-2000:]}"
            )
        time.sleep(POLL)
    proc.kill()
    pytest.fail(f"gave up waiting for {what}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=LIMIT)
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed (exit {proc.returncode})"


def _partials(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.partial-*"))


def _check_leftovers(out: Path, *, allow_manifest: bool = False) -> list[Path]:
    """Besides ``out`` only hidden ``.<out>.partial-*`` folders; none looks like a finished output."""
    extra = sorted(p for p in out.parent.iterdir() if p != out)
    for p in extra:
        assert p.name.startswith(f".{out.name}.partial-"), f"unexpected leftover {p.name}"
        if not allow_manifest:
            assert not (p / MANIFEST).exists(), f"{p.name} has a manifest but was never finished"
    return extra


def _rerun_succeeds(config: Path, out: Path, before: dict[str, str]) -> None:
    """The next run replaces the output, leaves nothing beside it, and writes a fresh manifest."""
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["generator"] == "evaluate"
    assert set(manifest["outputs"]) <= set(before)  # the same files as a complete run
    assert _snapshot(out)["results.csv"] == before["results.csv"]  # same config, same bytes


# what must exist inside the partial folder before the kill, by stage
STAGES: dict[str, Any] = {
    "partial_created": None,
    "tables_written": lambda partial: (partial / "results.csv").exists(),
    "charts_drawing": lambda partial: any((partial / "charts").glob("*.png")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_while_writing_leaves_previous_output_intact(
    stage: str, setup: tuple[Path, Path, dict[str, str]]
) -> None:
    config, out, before = setup
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaluate", "run", str(config), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=out.parent,
    )
    try:
        partial = _wait(
            proc, lambda: next(iter(_partials(out)), None), "the .partial folder appeared"
        )
        reached = STAGES[stage]
        if reached is not None:
            _wait(proc, lambda: reached(partial), f"stage {stage}")
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _snapshot(out) == before, "the killed run changed the previous output"
    leftovers = _check_leftovers(out)
    assert leftovers == [partial]
    _rerun_succeeds(config, out, before)


def _drive(stage: str, config: Path, out: Path, tmp_path: Path) -> str:
    """Start the driver at ``stage``, wait until it pauses there, kill it; return its note."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    marker = tmp_path / "paused.txt"
    argv = ["run", str(config), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(marker), stage, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        _wait(proc, marker.exists, f"the run paused at {stage}")
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return marker.read_text(encoding="utf-8")


def test_kill_after_the_manifest_before_the_commit(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """The temporary folder is complete (manifest included) but still hidden and named partial."""
    config, out, before = setup
    _drive("before_commit", config, out, tmp_path / "driver")
    assert _snapshot(out) == before
    (partial,) = _check_leftovers(out, allow_manifest=True)
    assert partial.name.startswith(".") and ".partial-" in partial.name
    _rerun_succeeds(config, out, before)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux only")
def test_kill_right_after_the_atomic_swap(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """After the swap the destination is the new complete output; the old copy is a leftover."""
    config, out, before = setup
    old_copy = Path(_drive("after_swap", config, out, tmp_path / "driver"))
    assert _snapshot(old_copy) == before  # the previous output, moved aside whole
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["generator"] == "evaluate" and "finished_at" in manifest
    assert set(manifest["outputs"]) == {k for k, v in _snapshot(out).items() if v != "dir"} - {
        MANIFEST
    }
    _check_leftovers(out, allow_manifest=True)
    _rerun_succeeds(config, out, before)


def test_kill_between_the_two_moves_of_the_fallback_commit(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Without an atomic swap the previous output is moved aside first; the next run puts it back."""
    config, out, before = setup
    old = Path(_drive("between_moves", config, out, tmp_path / "driver"))
    assert not out.exists() and old.name.startswith(f".{out.name}.old-")
    assert _snapshot(old) == before
    with OutputFolder(out):  # what the next run does first: put the previous output back
        assert _snapshot(out) == before
        assert not old.exists()
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    _rerun_succeeds(config, out, before)


# -- leftovers: what the next run removes, and what it must leave alone ---------------------------


def _fake_output(folder: Path, text: str = "x") -> None:
    folder.mkdir(parents=True)
    (folder / "results.csv").write_text(text)
    (folder / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))


def test_a_live_runs_partial_folder_is_not_removed(tmp_path: Path) -> None:
    """Two runs to one destination: the second must not delete the first one's working folder."""
    dest = tmp_path / "out"
    with OutputFolder(dest) as first:
        (first.path / "half.csv").write_text("being written")
        with OutputFolder(dest) as second:
            assert first.path.is_dir() and (first.path / "half.csv").exists()
            (second.path / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))
            second.commit()
        (first.path / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))
        first.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (dest / "half.csv").exists()


def test_clean_up_only_touches_this_destinations_leftovers(tmp_path: Path) -> None:
    """Names with glob characters do not reach other destinations' folders (regression: the
    clean-up used ``glob('.<name>.partial-*')``, so ``res[1]`` removed ``.res1.partial-*``)."""
    dest = tmp_path / "res[1]"
    mine = tmp_path / ".res[1].partial-dead"
    other = tmp_path / ".res1.partial-0000"
    other_star = tmp_path / ".res[1]x.partial-0000"
    for folder in (mine, other, other_star):
        folder.mkdir()
    with OutputFolder(dest) as folder:
        (folder.path / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))
        folder.commit()
    assert not mine.exists()
    assert other.is_dir() and other_star.is_dir()


def test_stale_old_copy_is_removed_when_the_output_exists(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    _fake_output(dest, "current")
    _fake_output(tmp_path / ".out.old-dead", "older")
    with OutputFolder(dest):
        pass
    assert (dest / "results.csv").read_text() == "current"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_symlinked_leftover_is_not_followed(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("keep")
    (tmp_path / ".out.partial-link").symlink_to(precious, target_is_directory=True)
    with OutputFolder(tmp_path / "out"):
        pass
    assert (precious / "thesis.docx").read_text() == "keep"


def test_output_folder_gets_the_users_permissions(tmp_path: Path) -> None:
    """Regression: the folder came from ``tempfile.mkdtemp`` and was 0700 (unreadable to a team)."""
    old = os.umask(0o022)
    try:
        with OutputFolder(tmp_path / "out") as folder:
            folder.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


# -- operating-system failures become OutputError (exit 2, one line) ------------------------------


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file, executable so that a check of access bits alone would let it through."""
    f = tmp_path / "notes.txt"
    f.write_text("not a folder")
    f.chmod(0o755)
    return f


@pytest.mark.parametrize("below", ["out", "deeper/out"])
def test_output_under_a_file_is_refused_before_any_work(a_file: Path, below: str) -> None:
    dest = a_file / below
    with pytest.raises(
        OutputError, match=r"--out: cannot create the output folder .*notes\.txt' is a file"
    ):
        check_destination(dest, [], context="--out")


def test_output_folder_under_a_file_is_an_output_error(a_file: Path) -> None:
    """Regression: mkdir raised FileExistsError (a traceback, exit 1) from ``OutputFolder``."""
    with (
        pytest.raises(
            OutputError, match=r"cannot create the folder .*notes\.txt.*is a file, not a folder"
        ),
        OutputFolder(a_file / "out", context="--out"),
    ):
        pass
    assert a_file.read_text() == "not a folder"


def test_cli_reports_an_output_under_a_file_in_one_line(
    previous: tuple[Path, Path], a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = previous
    code = main(["run", str(config), "--out", str(a_file / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1
    assert lines[0].startswith("error: --out: cannot create the output folder")
    assert "notes.txt' is a file" in lines[0] and "choose" in lines[0]


def _raise_for(fragment: str, err: int, real: Any) -> Any:
    def fake(*args: Any, **kwargs: Any) -> Any:
        if any(fragment in os.fspath(a) for a in args if isinstance(a, str | os.PathLike)):
            raise OSError(err, os.strerror(err), os.fspath(args[0]))
        return real(*args, **kwargs)

    return fake


@pytest.mark.parametrize(
    ("err", "fix"),
    [
        (errno.EACCES, "check you may write there"),
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "the file system is read-only"),
    ],
)
def test_failure_to_create_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, fix: str
) -> None:
    monkeypatch.setattr(outputs.os, "mkdir", _raise_for(".partial-", err, os.mkdir))
    with (
        pytest.raises(
            OutputError, match=rf"^--out: cannot create a temporary folder beside '.*out' .*; {fix}"
        ),
        OutputFolder(tmp_path / "out", context="--out"),
    ):
        pass


@pytest.mark.parametrize("swap", [True, False], ids=["atomic_swap", "two_moves"])
def test_failure_to_move_into_place_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: bool
) -> None:
    dest = tmp_path / "out"
    _fake_output(dest, "previous")
    before = _snapshot(dest)

    def refuse(*_a: Any) -> bool:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(dest))

    if swap:
        monkeypatch.setattr(outputs, "_exchange", refuse)
    else:
        monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
        monkeypatch.setattr(outputs.os, "rename", _raise_for(".partial-", errno.EACCES, os.rename))
    with (
        pytest.raises(
            OutputError,
            match="cannot move the new output into .*the previous output was not replaced",
        ),
        OutputFolder(dest) as folder,
    ):
        (folder.path / MANIFEST).write_text(json.dumps({"generator": "evaluate"}))
        folder.commit()
    assert _snapshot(dest) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_disk_full_while_writing_is_an_output_error(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    _fake_output(dest, "previous")
    with (
        pytest.raises(
            OutputError,
            match=r"cannot write the output folder .*nothing was replaced; the disk is full",
        ),
        OutputFolder(dest) as folder,
    ):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder.path / "panel.parquet"))
    assert (dest / "results.csv").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_other_errors_inside_the_block_are_not_disguised(tmp_path: Path) -> None:
    """A bug (here a missing file the code expected) still surfaces as itself (exit 1)."""
    with pytest.raises(FileNotFoundError), OutputFolder(tmp_path / "out"):
        raise FileNotFoundError(errno.ENOENT, "no such file", "charts/x.png")


def test_unreadable_destination_is_an_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing folder that cannot be listed (no read permission) is refused in one line."""
    dest = tmp_path / "out"
    _fake_output(dest)
    real = Path.iterdir

    def denied(self: Path) -> Any:
        if self == dest:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(
        OutputError,
        match=r"^--out: cannot use the output folder '.*out' \(Permission denied\); check",
    ):
        check_destination(dest, [], context="--out")

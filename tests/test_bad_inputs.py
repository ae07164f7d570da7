"""The bad-inputs corpus: every malformed config, data file or output folder in
``tests/bad_inputs/`` must fail cleanly.

Each case folder holds ``expected.yaml``::

    description: one line saying what is wrong
    exit: 2                      # 0 for inputs that must be accepted
    phrase: "regex"              # searched (case-insensitive) in the one-line error message
    command: run                 # or validate
    known_bug: "what happens now"   # optional: the case is xfail(strict=True) until fixed
    note: "..."                  # optional: why an exit 0 is acceptable
    config: other.yaml           # optional: the config path to pass (default config.yaml)
    out: "{project}/results"     # optional (run only): the --out folder ({root}: the temporary
                                 # folder, {project}: the assembled case inside it), or "config"
                                 # to use outputs.dir; by default a previous valid output at
                                 # {root}/out that the failed run must leave untouched
    output_contains: "regex"     # optional, exit 0 only: must appear in the new validation.json
    needs_permissions: true      # optional: skip when file permissions are not enforced (root)

A case is assembled in a temporary folder: ``_base`` (a small valid project), then the case
folder on top (its ``config.yaml`` and any file that differs), then the case's ``make.py``
(``make(dir)``), which generates big or binary inputs at test time. Cases under ``accepted/`` are
inputs that look odd but must be accepted (exit 0).

For a failing case the command must exit with ``exit``, print exactly one ``error: ...`` line as
the last line of stderr (a validation report or progress lines may come before it), match
``phrase``, print no traceback, and leave the temporary folder byte-for-byte as it was: no new
output or ``.partial`` folder, and the previous output folder untouched.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from evaluate.cli import main

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
BASE = CORPUS / "_base"
ACCEPTED = CORPUS / "accepted"
CASE_ONLY = {"expected.yaml", "make.py", "__pycache__"}
KEYS = {
    "description",
    "exit",
    "phrase",
    "command",
    "known_bug",
    "note",
    "config",
    "out",
    "needs_permissions",
    "output_contains",
}


@dataclass(frozen=True)
class Case:
    """One corpus folder and its expectations."""

    id: str
    folder: Path
    expected: dict[str, Any]

    @property
    def command(self) -> str:
        return self.expected.get("command", "run")

    @property
    def exit(self) -> int:
        return int(self.expected["exit"])


def _load_cases() -> list[Case]:
    folders = [p for p in sorted(CORPUS.iterdir()) if p.is_dir() and p not in (BASE, ACCEPTED)]
    folders += sorted(p for p in ACCEPTED.iterdir() if p.is_dir()) if ACCEPTED.is_dir() else []
    cases = []
    for folder in folders:
        if folder.name == "__pycache__":
            continue
        expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
        cases.append(Case(folder.relative_to(CORPUS).as_posix(), folder, expected))
    return cases


CASES = _load_cases()
BAD = [c for c in CASES if c.exit != 0]


def _param(case: Case) -> Any:
    marks = []
    if case.expected.get("known_bug"):
        marks.append(
            pytest.mark.xfail(strict=True, reason=f"known bug: {case.expected['known_bug']}")
        )
    return pytest.param(case, id=case.id, marks=marks)


# -- assembling a case ---------------------------------------------------------------------------


def _copy_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in CASE_ONLY:
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _run_make(case: Case, project: Path) -> None:
    script = case.folder / "make.py"
    if not script.exists():
        return
    # compiled from source (no bytecode is written into the corpus)
    namespace: dict[str, Any] = {
        "__name__": f"_bad_inputs_make_{case.folder.name}",
        "__file__": str(script),
    }
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), namespace)  # noqa: S102
    namespace["make"](project)


def _assemble(case: Case, root: Path) -> Path:
    """Write ``_base`` + the case into ``root/project``; return the project folder."""
    project = root / "project"
    project.mkdir(parents=True)
    _copy_tree(BASE, project)
    _copy_tree(case.folder, project)
    _run_make(case, project)
    return project


def _argv(case: Case, root: Path, project: Path) -> list[str]:
    config = project / case.expected.get("config", "config.yaml")
    if case.command == "validate":
        return ["validate", str(config)]
    out = case.expected.get("out", "{root}/out")
    if out == "config":
        return ["run", str(config)]
    return ["run", str(config), "--out", out.format(root=root, project=project)]


def _uses_previous_output(case: Case) -> bool:
    return case.command == "run" and "out" not in case.expected


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root``: folders as ``dir``, files as their sha256."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _permissions_enforced(folder: Path) -> bool:
    """False when this process can write into a read-only folder (root ignores permissions)."""
    probe = folder / f".probe-{uuid.uuid4().hex}"
    try:
        probe.mkdir()
    except PermissionError:
        return True
    probe.rmdir()
    return False


def _restore_permissions(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


@pytest.fixture(scope="session")
def previous_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid output folder from the ``_base`` project: the 'previous results' a bad run must not touch."""
    root = tmp_path_factory.mktemp("previous")
    project = root / "project"
    _copy_tree(BASE, project)
    out = root / "out"
    assert main(["run", str(project / "config.yaml"), "--out", str(out), "--quiet"]) == 0
    assert (out / "manifest.json").is_file()
    return out


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _check_failure(case: Case, code: int, stderr: str, root: Path) -> None:
    """Exit status, one final ``error:`` line matching the phrase, and no traceback.

    The phrase is matched with the temporary folder's path replaced by ``<tmp>``, so that a
    phrase cannot match the test's own folder name (``test_bad_input_trailing_delimiter0``).
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, f"traceback in stderr:\n{stderr}"
    assert code == case.exit, f"exit {code}, expected {case.exit}; stderr:\n{stderr}"
    errors = _error_lines(stderr)
    assert len(errors) == 1, f"expected exactly one 'error:' line, got {len(errors)}:\n{stderr}"
    assert lines and lines[-1] == errors[0], f"the 'error:' line is not the last line:\n{stderr}"
    assert lines[-1].startswith("error: ")
    phrase = case.expected.get("phrase")
    if phrase:
        line = errors[0]
        for prefix in {str(root.resolve()), str(root)}:
            line = line.replace(prefix, "<tmp>")
        assert re.search(phrase, line, re.IGNORECASE), (
            f"phrase {phrase!r} not in the error line:\n{line}"
        )


# -- the tests -----------------------------------------------------------------------------------


def test_corpus_has_at_least_40_bad_cases() -> None:
    assert len(BAD) >= 40, f"only {len(BAD)} bad-input cases"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_expected_yaml_is_well_formed(case: Case) -> None:
    e = case.expected
    assert set(e) <= KEYS, f"unknown keys {set(e) - KEYS}"
    assert isinstance(e.get("description"), str) and e["description"].strip()
    assert "\n" not in e["description"]
    assert e["exit"] in (0, 1, 2)
    assert case.command in ("run", "validate")
    if case.exit == 0:
        assert "phrase" not in e
        assert case.id.startswith("accepted/") or e.get("note"), "an accepted case needs a note"
    else:
        re.compile(e["phrase"])
    assert (
        (case.folder / "config.yaml").exists()
        or (case.folder / "make.py").exists()
        or "config" in e
    )
    for path in case.folder.rglob("*"):
        if path.is_file():
            assert path.stat().st_size <= 50_000, f"{path} is large; generate it in make.py"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy/statsmodels noise from known bugs
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(
    case: Case, tmp_path: Path, previous_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _assemble(case, tmp_path)
    try:
        argv = _argv(case, tmp_path, project)
        if case.expected.get("needs_permissions") and not _permissions_enforced(
            Path(argv[-1]).parent
        ):
            pytest.skip("file permissions are not enforced for this user (running as root)")
        if _uses_previous_output(case):
            shutil.copytree(previous_output, tmp_path / "out")
        before = _snapshot(tmp_path)
        capsys.readouterr()
        code = main(argv)
        stderr = capsys.readouterr().err
        if case.exit == 0:
            assert code == 0, f"exit {code}, expected 0; stderr:\n{stderr}"
            assert not _error_lines(stderr) and "Traceback" not in stderr, stderr
            if case.command == "run":
                assert (tmp_path / "out" / "manifest.json").is_file()
            if case.expected.get("output_contains"):
                report = (tmp_path / "out" / "validation.json").read_text(encoding="utf-8")
                assert re.search(case.expected["output_contains"], report, re.IGNORECASE)
            assert not [p for p in tmp_path.rglob("*") if ".partial-" in p.name]
            return
        _check_failure(case, code, stderr, tmp_path)
        after = _snapshot(tmp_path)
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        assert not added, f"the failed run created {added[:10]}"
        assert not removed, f"the failed run removed {removed[:10]}"
        assert not changed, f"the failed run changed {changed[:10]}"
    finally:
        _restore_permissions(tmp_path)


# one config failure, one validation failure (a multi-line report before the error line) and one
# failure after the data are joined (progress lines before it)
SUBPROCESS_CASES = ["yaml_object_tag", "undeclared_suppression_marker", "harm_weight_on_activity"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_process_behaves_the_same(name: str, tmp_path: Path, previous_output: Path) -> None:
    """The installed command, in a real process, gives the same exit, line and untouched outputs."""
    case = next(c for c in CASES if c.id == name)
    assert not case.expected.get("known_bug")
    project = _assemble(case, tmp_path)
    if _uses_previous_output(case):
        shutil.copytree(previous_output, tmp_path / "out")
    before = _snapshot(tmp_path)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "evaluate", *_argv(case, tmp_path, project)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    _check_failure(case, proc.returncode, proc.stderr, tmp_path)
    assert _snapshot(tmp_path) == before
    assert "pwned" not in proc.stdout and not (tmp_path / "pwned.txt").exists()

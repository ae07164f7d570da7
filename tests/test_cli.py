"""The command line: commands, exit statuses, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evaluate import cli


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for command in ("run", "validate", "demo", "dictionary", "schema"):
        assert command in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([], capsys)
    assert code == 0 and "usage: evaluate" in out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["frobnicate"], capsys)
    assert code == 2 and "invalid choice" in err


def test_dictionary_prints_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["dictionary"], capsys)
    assert code == 0
    assert out.startswith("# Data dictionary")
    assert "`nonfatal_overdoses`" in out


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["schema"], capsys)
    assert code == 0
    schema = json.loads(out)
    assert "analyses" in schema["properties"]


def test_validate_demo(capsys: pytest.CaptureFixture[str], demo_config: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out, _ = _run(["validate", str(demo_config), "--report", str(report)], capsys)
    assert code == 0
    assert "Validation: 9 sources, 0 errors" in out
    assert "Join (month panel, policy strict): 45 areas x 108 periods" in out
    assert "OK:" in out.splitlines()[-1]
    content = json.loads(report.read_text())
    assert set(content) >= {"validation", "join", "timing", "harm_index"}


def test_bad_config_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], make_project: Any) -> None:
    path = make_project(config={"outputz": {}})
    code, out, err = _run(["validate", str(path)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "did you mean 'outputs'?" in err
    assert "Traceback" not in err


def test_validation_failure_prints_report_then_one_error_line(capsys: pytest.CaptureFixture[str], make_project: Any, tmp_path: Path) -> None:
    path = make_project(files={"data/harm.csv": "area_code,period,nonfatal_overdoses\nA1,2019-01,-3\n"})
    report = tmp_path / "r.json"
    code, _, err = _run(["validate", str(path), "--report", str(report)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "negative_count" in lines[-1]
    assert sum(line.startswith("error: ") for line in lines) == 1
    assert "ERROR [negative_count] harm.nonfatal_overdoses" in err
    assert json.loads(report.read_text())["validation"]["ok"] is False


def test_unexpected_failure_exits_1_with_traceback(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, make_project: Any) -> None:
    def boom(*_a: Any, **_k: Any) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("evaluate.pipeline.prepare.prepare", boom)
    code, _, err = _run(["validate", str(make_project())], capsys)
    assert code == 1
    assert "Traceback" in err and "this is a bug in evaluate" in err


def test_run_quiet_prints_the_folder(capsys: pytest.CaptureFixture[str], make_project: Any, tmp_path: Path) -> None:
    code, out, _ = _run(["run", str(make_project()), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 0 and out.strip() == str((tmp_path / "o").resolve())


def test_real_process_startup_does_not_import_heavy_libraries() -> None:
    """`evaluate --help` and `validate` stay fast: no statsmodels, linearmodels or matplotlib."""
    code = (
        "import sys\n"
        "from evaluate.cli import main\n"
        "from evaluate.demo import demo_config_path\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['validate', str(demo_config_path())]) == 0\n"
        "heavy = [m for m in ('statsmodels', 'linearmodels', 'matplotlib', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_real_process_exit_status_and_stderr(make_project: Any) -> None:
    path = make_project(config={"analyses": [{"name": "x", "method": "nope", "intervention": "scheme", "outcomes": ["y"]}]})
    proc = subprocess.run([sys.executable, "-m", "evaluate", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "unknown method 'nope'" in proc.stderr

"""The architecture as written in ARCHITECTURE.md: import layers, lazy imports, documented API."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "evaluate"


def test_import_layers_run_one_way() -> None:
    """import-linter checks the layers contract in pyproject.toml."""
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (it is in the test extra)")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_evaluate_is_cheap() -> None:
    code = "import sys, evaluate; print(','.join(m for m in ('pandas', 'statsmodels', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _public_functions() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                found.append((f"{path.relative_to(ROOT)}:{node.name}", node))
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        found.append((f"{path.relative_to(ROOT)}:{node.name}.{item.name}", item))
    return found


def test_public_functions_are_documented_and_typed() -> None:
    missing_doc = [name for name, fn in _public_functions() if ast.get_docstring(fn) is None]
    untyped = [
        name
        for name, fn in _public_functions()
        if fn.returns is None or any(a.annotation is None for a in fn.args.args if a.arg not in ("self", "cls"))
    ]
    assert not missing_doc, f"public functions without docstrings: {missing_doc}"
    assert not untyped, f"public functions without full type hints: {untyped}"


def test_no_eval_or_exec_in_the_package() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_architecture_md_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    modules = [
        str(p.relative_to(ROOT)).removesuffix(".py")
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name not in ("__init__.py", "__main__.py")
    ]
    missing = [m for m in modules if m.replace("evaluate/", "") not in text and m not in text]
    assert not missing, f"ARCHITECTURE.md does not mention: {missing}"

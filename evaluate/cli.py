"""The ``evaluate`` command.

Exit status: 0 success; 2 a bad config, bad data or unusable output folder (one line
``error: ...`` on stderr naming the file, key or column and the fix; no traceback); 1 an
unexpected failure (a bug: the traceback is printed so it can be reported).

Heavy libraries (statsmodels, linearmodels, matplotlib) are imported only by the commands that
fit or draw, so ``evaluate --help`` and ``evaluate validate`` start quickly.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="evaluate",
        description=(
            "Did a drugs-policing intervention reduce harm? Joins policing activity with harm "
            "outcomes by area and period and runs ITS, DiD and synthetic-control evaluations "
            "from a YAML config."
        ),
        epilog="Exit status: 0 success, 2 bad config or data, 1 unexpected failure.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run an evaluation and write its output folder")
    p.add_argument("config", type=Path, help="evaluation YAML config")
    p.add_argument("--out", type=Path, default=None, help="output folder (overrides outputs.dir)")
    p.add_argument("--quiet", action="store_true", help="print only the output folder")
    _compute_options(p)

    p = sub.add_parser("validate", help="load, validate and join only; print the reports")
    p.add_argument("config", type=Path, help="evaluation YAML config")
    p.add_argument("--report", type=Path, default=None, help="also write the reports as JSON here")

    p = sub.add_parser("demo", help="run the bundled demo on the embedded simulated data")
    p.add_argument(
        "--out", type=Path, default=Path("evaluate-demo"), help="output folder (default ./evaluate-demo)"
    )
    p.add_argument("--quiet", action="store_true", help="print only the output folder")
    _compute_options(p)

    p = sub.add_parser("verify", help="re-run the published replications; exit 0 only if all pass")
    p.add_argument("names", nargs="*", help="replications to run (default: all)")

    sub.add_parser("dictionary", help="print the data dictionary as Markdown")
    sub.add_parser("schema", help="print the config's JSON Schema")
    return parser


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--workers must be a whole number of at least 1 or 'auto', got {text!r}")
    return n


def _compute_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=_workers, default=None,
                   help="processes for the analyses (a number or 'auto'; overrides outputs.compute.workers)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the analyses on a Dask cluster at this address (overrides outputs.compute.scheduler)")


_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _blas_threads() -> Any:
    """One BLAS thread for a run, unless the user set a thread count in the environment.

    The estimators vectorise many small problems; threaded BLAS gains little on those and, when
    other processes compete for the cores, spinning BLAS threads slow small solves by one to two
    orders of magnitude (measured on a loaded 2-core machine: a 600 x 600 solve took 1.6 s with
    two OpenBLAS threads and 0.04 s with one; the demo's PPML analysis 25 s and 3 s).
    """
    import contextlib
    import os

    if any(os.environ.get(v) for v in _BLAS_ENV):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _print_err(message: str) -> None:
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evaluate`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.version:
        from importlib.metadata import version

        print(f"evaluate {version('evaluate')}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    from evaluate.errors import EvaluateError, ValidationFailed

    try:
        return _dispatch(args)
    except ValidationFailed as exc:
        print(exc.report.to_text(), file=sys.stderr)
        _print_err(exc.message)
        return 2
    except EvaluateError as exc:
        report = getattr(exc, "report", None)
        if report is not None and hasattr(report, "to_text"):
            print(report.to_text(), file=sys.stderr)
        _print_err(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        _print_err("interrupted; no outputs were written")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, exit 1
        traceback.print_exc()
        _print_err(
            f"unexpected failure ({type(exc).__name__}: {exc}); this is a bug in evaluate, "
            "please report it with the traceback above"
        )
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "dictionary":
        from evaluate.data.dictionary import load_dictionary, to_markdown

        print(to_markdown(load_dictionary()))
        return 0
    if args.command == "schema":
        import json

        from evaluate.config.loader import config_json_schema

        print(json.dumps(config_json_schema(), indent=2))
        return 0
    if args.command == "validate":
        return _validate(args.config, args.report)
    if args.command == "verify":
        from evaluate.errors import ConfigError
        from evaluate.verify import REPLICATIONS, format_checks, run_verification

        unknown = [n for n in args.names if n not in REPLICATIONS]
        if unknown:
            raise ConfigError(f"verify: unknown replication '{unknown[0]}'; expected one of ({', '.join(REPLICATIONS)})")
        checks = run_verification(args.names or None)
        print(format_checks(checks))
        return 0 if all(c.passed for c in checks) else 1
    if args.command == "run":
        return _run(args.config, args.out, quiet=args.quiet, workers=args.workers, scheduler=args.scheduler)
    if args.command == "demo":
        from evaluate.demo import demo_config_path

        return _run(demo_config_path(), args.out, quiet=args.quiet, workers=args.workers, scheduler=args.scheduler)
    raise AssertionError(f"unhandled command {args.command}")  # argparse restricts choices


def _validate(config: Path, report_path: Path | None) -> int:
    from evaluate.config.loader import load_config
    from evaluate.errors import ValidationFailed
    from evaluate.pipeline.outputs import write_json
    from evaluate.pipeline.prepare import prepare

    loaded = load_config(config)
    try:
        prepared = prepare(loaded)
    except ValidationFailed as exc:
        if report_path is not None:
            write_json(report_path, {"validation": exc.report.to_dict()})
        raise
    from evaluate.pipeline.analyses import check_all

    check_all(prepared)
    print(prepared.validation.to_text())
    for panel in prepared.panels.values():
        print(panel.report.to_text())
    for name, by_freq in prepared.timings.items():
        t = next(iter(by_freq.values()))
        cohorts = ", ".join(f"{k} ({len(v)})" for k, v in t.cohorts.items())
        print(
            f"Intervention {name} ({t.kind}): {len(t.treated_areas)} treated areas, "
            f"{len(t.never_treated)} never treated; cohorts {cohorts}"
        )
        for note in t.notes:
            print(f"  note: {note}")
    if report_path is not None:
        write_json(report_path, prepared.reports())
    print(f"OK: {loaded.label} is valid; {len(loaded.model.analyses)} analyses ready to run")
    return 0


def _run(config: Path, out: Path | None, *, quiet: bool, workers: int | str | None = None,
         scheduler: str | None = None) -> int:
    from evaluate.pipeline.run import run_evaluation

    def progress(msg: str) -> None:
        if not quiet:
            print(f"... {msg}", file=sys.stderr)

    with _blas_threads():
        summary = run_evaluation(config, out=out, progress=progress, workers=workers, scheduler=scheduler)
    if not quiet:
        warnings = summary.prepared.validation.warnings
        if warnings:
            print(f"{len(warnings)} validation warning(s); see validation.json", file=sys.stderr)
        print(
            f"{len(summary.table)} result rows from {len(summary.prepared.loaded.model.analyses)} "
            f"analyses",
            file=sys.stderr,
        )
    print(summary.output_dir)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

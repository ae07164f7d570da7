"""Run the benchmark suite: every case in fresh processes, ours against the peers.

::

    python benchmarks/run.py                 # the full suite (3 runs per case), rewrites RESULTS.md
    python benchmarks/run.py --quick         # small sizes, 1 run, fast peers: a smoke test
    python benchmarks/run.py --only cs       # cases whose name matches (glob or substring)
    python benchmarks/run.py --list          # what would run

Each run of each case is a new child process (``ours.py`` with this Python, the peers' scripts
with the peers' virtualenv, see ``peers/setup.sh``) that caps its address space, warms the
estimator up on a small panel, reads the cached panel and times the estimator alone
(``harness.py``). The runner keeps the median wall time and the largest peak RSS over the runs,
checks the peers' estimates against ours (``specs.AGREEMENT``), writes
``results/latest.json`` (full suite, merged with earlier results for cases not re-run) or
``results/quick.json``, prints the table, and rewrites the generated part of ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate
import national
import report
from specs import WARMUP_SIZE, Spec, suite

DEFAULT_PEERS = Path(os.environ.get("PEERS_VENV", "/tmp/peers"))
RESULTS = HERE / "results"


def select(specs: Sequence[Spec], patterns: Sequence[str]) -> list[Spec]:
    """The specs whose name matches any pattern (glob, or substring of the name).

    Parameters
    ----------
    specs
        All specs.
    patterns
        ``--only`` values; empty: all.

    Returns
    -------
    list of Spec
        The selection, in suite order.
    """
    if not patterns:
        return list(specs)
    return [s for s in specs if any(fnmatch.fnmatch(s.name, p) or p in s.name for p in patterns)]


def _peer_status(venv: Path) -> dict[str, Any]:
    path = venv / "peers-install.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _python(spec: Spec, peers: Path) -> Path:
    return Path(sys.executable) if spec.venv == "dev" else peers / "bin" / "python"


def _unavailable(spec: Spec, peers: Path, installed: dict[str, Any]) -> str | None:
    if spec.venv == "dev":
        return None
    if not (peers / "bin" / "python").exists():
        return f"not installed: no peers virtualenv at {peers} (run benchmarks/peers/setup.sh)"
    st = installed.get(spec.package or "")
    if st is not None and not st.get("ok", False):
        return f"not installable: {st.get('error', 'pip failed')}"
    return None


def _inputs(spec: Spec, cache: Path, seed: int) -> tuple[Path | None, dict[str, str]]:
    params = dict(spec.params)
    if spec.kind == "e2e":
        config = national.cached_project(spec.areas, spec.periods, seed, draws=int(params.pop("draws", "999")),
                                         n_outcomes=int(params.pop("outcomes", "6")), cache=cache)
        out = cache / f"e2e_out_{spec.size}"
        params.update(config=str(config), out=str(out), timeout=str(spec.timeout))
        return None, params
    return generate.cached_panel(spec.areas, spec.periods, seed, cache), params


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "POLARS_MAX_THREADS", "RAYON_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
"""Set to ``--threads`` in every child (BLAS, OpenMP, numba, polars and Rust/rayon pools)."""


def run_once(spec: Spec, python: Path, data: Path | None, params: dict[str, str], warmup: Path | None,
             mem_gb: float, log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One fresh child process: its result file, or what happened to it.

    Parameters
    ----------
    spec
        The case.
    python
        Interpreter.
    data, params
        Panel and ``--param`` values.
    warmup
        Warm-up panel (``None``: no warm-up).
    mem_gb
        Address-space cap of the child (GB).
    log
        File for the child's stdout and stderr.
    env
        Extra environment variables of the child.

    Returns
    -------
    dict
        The child's result (``status``, ``seconds``, ``peak_rss_mb``, ``estimates``...) plus
        ``process_seconds`` (wall time of the whole child) and ``returncode``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [str(python), str(HERE / spec.script), "--case", spec.kind, "--out", str(out),
               "--mem-limit-gb", str(mem_gb)]
        if data is not None:
            cmd += ["--data", str(data)]
        if warmup is not None:
            cmd += ["--warmup", str(warmup)]
        for k, v in params.items():
            cmd += ["--param", f"{k}={v}"]
        log.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with log.open("w") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg", **(env or {})})
            try:
                code = proc.wait(timeout=spec.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return {"status": "timeout", "error": f"over {spec.timeout:.0f} s (stopped)",
                        "process_seconds": time.perf_counter() - t0, "returncode": None}
            except BaseException:  # interrupted: stop the child's process group with us
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        elapsed = time.perf_counter() - t0
        if out.exists():
            res = dict(json.loads(out.read_text()))
        elif code < 0:
            sig = signal.Signals(-code).name
            tail = log.read_text(errors="replace")[-4000:]
            alloc = next((ln.strip() for ln in tail.splitlines() if "memory allocation of" in ln
                          or "Cannot allocate memory" in ln or "std::bad_alloc" in ln), None)
            if -code == signal.SIGKILL:
                res = {"status": "out of memory", "error": "killed by SIGKILL (the kernel's OOM killer?)"}
            elif alloc:  # Rust/C++ allocators abort instead of raising MemoryError
                res = {"status": "out of memory", "error": f"{alloc} (aborted, {sig})"}
            else:
                res = {"status": "error", "error": f"killed by {sig}"}
        else:
            tail = log.read_text().strip().splitlines()[-5:]
            res = {"status": "error", "error": f"exit {code} without a result: " + " | ".join(tail)}
        res.update(process_seconds=elapsed, returncode=code)
        est = res.get("estimates") or {}
        if "wall_seconds" in est:  # end to end: the evaluate run subprocess is the measure
            res["seconds"] = est["wall_seconds"]
            res["peak_rss_mb"] = est["child_peak_rss_mb"]
        return res


def summarise(spec: Spec, runs: list[dict[str, Any]], version: str | None) -> dict[str, Any]:
    """One result record from a spec's runs.

    Parameters
    ----------
    spec
        The case.
    runs
        The child results.
    version
        Package version of the implementation.

    Returns
    -------
    dict
        Median, min and max seconds and the largest peak RSS over the ``ok`` runs; the first
        run's estimates; the status of the first failure if no run is ``ok``.
    """
    ok = [r for r in runs if r.get("status") == "ok"]
    rec: dict[str, Any] = {
        "name": spec.name, "group": spec.group, "case": spec.case, "kind": spec.kind, "impl": spec.impl, "size": spec.size,
        "areas": spec.areas, "periods": spec.periods, "rows": spec.areas * spec.periods, "note": spec.note,
        "params": spec.params, "version": version, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": [{k: r.get(k) for k in ("status", "seconds", "peak_rss_mb", "rss_after_load_mb", "load_seconds",
                                         "warmup_seconds", "process_seconds", "returncode", "error")} for r in runs],
    }
    if ok:
        secs = [float(r["seconds"]) for r in ok]
        rec.update(status="ok", n_runs=len(ok), median_seconds=statistics.median(secs), min_seconds=min(secs),
                   max_seconds=max(secs), peak_rss_mb=max(float(r.get("peak_rss_mb") or 0) for r in ok),
                   rss_after_load_mb=statistics.median(float(r.get("rss_after_load_mb") or 0) for r in ok),
                   estimates=ok[0].get("estimates", {}))
    else:
        first = runs[0] if runs else {"status": "error", "error": "not run"}
        rec.update(status=first.get("status", "error"), n_runs=0, error=first.get("error"),
                   peak_rss_mb=first.get("peak_rss_mb"))
    return rec


def _versions(peers: Path) -> dict[str, Any]:
    from importlib import metadata

    dev = {}
    for pkg in ("evaluate", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "pyarrow", "matplotlib"):
        try:
            dev[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            dev[pkg] = None
    peer: dict[str, Any] = {}
    py = peers / "bin" / "python"
    if py.exists():
        code = ("import json, sys, importlib.metadata as m\nout = {'python': sys.version.split()[0]}\n"
                "for p in ('pyfixest','csdid','differences','diff-diff','moderndid','statsmodels','wildboottest',"
                "'numpy','pandas','numba','polars'):\n"
                "    try: out[p] = m.version(p)\n    except Exception: out[p] = None\nprint(json.dumps(out))")
        try:
            peer = json.loads(subprocess.run([str(py), "-c", code], check=False, capture_output=True, text=True,
                                             timeout=120).stdout)
        except (ValueError, subprocess.SubprocessError, OSError):
            peer = {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                            cwd=HERE.parent).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "evaluate"], check=False, capture_output=True,
                                text=True, cwd=HERE.parent).stdout.strip())
    return {"python": platform.python_version(), "dev": dev, "peers": peer,
            "git": f"{commit}{' + uncommitted changes in evaluate/' if dirty else ''}"}


def machine() -> dict[str, Any]:
    """Cores, RAM, CPU model and load average of this machine.

    Returns
    -------
    dict
        ``cores``, ``ram_gb``, ``cpu``, ``load_average``, ``platform``.
    """
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = float(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return {"cores": os.cpu_count(), "ram_gb": round(ram, 1), "cpu": cpu or platform.processor(),
            "load_average": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform()}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite.

    Parameters
    ----------
    argv
        Command-line arguments (see the module docstring).

    Returns
    -------
    int
        0 when every case ran (whatever it measured), 1 when one of ours failed, 2 on bad usage.
    """
    p = argparse.ArgumentParser(description="Run the evaluate benchmark suite.")
    p.add_argument("--quick", action="store_true", help="small sizes, 1 run, fast peers (smoke test)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="run only cases whose name (case/size/impl) matches; glob or substring; repeatable")
    p.add_argument("--runs", type=int, help="runs per case (default 3, quick 1)")
    p.add_argument("--long", type=float, default=300.0,
                   help="a case whose first run takes longer than this many seconds is not repeated (0: always)")
    p.add_argument("--no-peers", action="store_true", help="our cases only")
    p.add_argument("--peers-venv", type=Path, default=DEFAULT_PEERS, help="peers' virtualenv (default %(default)s)")
    p.add_argument("--mem-limit-gb", type=float, default=18.0, help="address-space cap of every child (GB)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache", type=Path, default=generate.DEFAULT_CACHE)
    p.add_argument("--no-warmup", action="store_true", help="do not warm the estimators up before timing")
    p.add_argument("--threads", type=int, help="limit every child's BLAS/OpenMP/numba/rayon threads "
                   "(default: the libraries' own default; 1 gives steadier figures on a loaded machine)")
    p.add_argument("--no-markdown", action="store_true", help="do not rewrite RESULTS.md")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    a = p.parse_args(argv)

    specs = select(suite(quick=a.quick, peers=not a.no_peers), a.only)
    if not specs:
        print(f"no case matches {a.only}", file=sys.stderr)
        return 2
    if a.list:
        for s in specs:
            print(f"{s.name:45s} {s.venv:5s} {s.note}")
        return 0
    runs = a.runs or (1 if a.quick else 3)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so run_once stops the running child
    env = {v: str(a.threads) for v in THREAD_VARIABLES} if a.threads else {}
    installed = _peer_status(a.peers_venv)
    start = machine()
    warm = None
    if not (a.quick or a.no_warmup):
        warm = generate.cached_panel(*WARMUP_SIZE, a.seed, a.cache)
    versions = _versions(a.peers_venv)
    records: list[dict[str, Any]] = []
    logs = RESULTS / "logs"
    print(f"{len(specs)} cases, {runs} run(s) each; logs in {logs}", flush=True)
    for spec in specs:
        missing = _unavailable(spec, a.peers_venv, installed)
        version = None
        if spec.venv == "dev":
            version = versions["dev"].get("evaluate")
        elif spec.package:
            version = versions["peers"].get(spec.package)
        if missing:
            rec = summarise(spec, [{"status": "not installed", "error": missing}], version)
            records.append(rec)
            print(f"  {spec.name:45s} {missing}", flush=True)
            continue
        data, params = _inputs(spec, a.cache, a.seed)
        results: list[dict[str, Any]] = []
        for i in range(runs):
            log = logs / f"{spec.name.replace('/', '_')}.{i + 1}.log"
            r = run_once(spec, _python(spec, a.peers_venv), data, params, warm, a.mem_limit_gb, log, env)
            results.append(r)
            shown = f"{r['seconds']:.3f} s, peak {r.get('peak_rss_mb') or 0:.0f} MB" if r.get("status") == "ok" \
                else f"{r.get('status')}: {str(r.get('error'))[:160]}"
            print(f"  {spec.name:45s} run {i + 1}: {shown}", flush=True)
            if r.get("status") != "ok" or (a.long and float(r.get("seconds") or 0) > a.long):
                break
        records.append(summarise(spec, results, version))
    end = machine()
    payload = {
        "suite": "quick" if a.quick else "full",
        "command": " ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**start, "load_average_end": end["load_average"]},
        "versions": versions,
        "runs_per_case": runs,
        "memory_limit_gb": a.mem_limit_gb,
        "threads": a.threads,
        "warmup": None if warm is None else f"{WARMUP_SIZE[0]}x{WARMUP_SIZE[1]} panel, untimed",
        "results": records,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / ("quick.json" if a.quick else "latest.json")
    if not a.quick and a.only and target.exists():
        payload = report.merge(json.loads(target.read_text()), payload)
    target.write_text(json.dumps(payload, indent=1, default=str))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if not a.quick:
        (RESULTS / f"run-{stamp}.json").write_text(json.dumps(payload, indent=1, default=str))
    print()
    print(report.text_table(payload))
    print(f"\nresults: {target}")
    if not a.quick and not a.no_markdown:
        report.write_markdown(payload, HERE / "RESULTS.md")
        print(f"figures rewritten in {HERE / 'RESULTS.md'}")
    failed = [r["name"] for r in records if r["impl"] == "ours" and r["status"] not in ("ok", "not available")]
    if failed:
        print(f"\nour cases that did not finish: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

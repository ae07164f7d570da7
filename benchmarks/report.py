"""Turn a results file of ``run.py`` into tables: the printed table and ``RESULTS.md``'s figures.

::

    python benchmarks/report.py [benchmarks/results/latest.json] [--markdown benchmarks/RESULTS.md]

Only the part of ``RESULTS.md`` between ``<!-- BEGIN GENERATED -->`` and
``<!-- END GENERATED -->`` is rewritten; the notes around it are kept.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from specs import AGREEMENT, TARGETS, Check

__all__ = ["agreement", "main", "markdown", "merge", "targets", "text_table", "write_markdown"]

BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Results of a partial run (``--only``) merged into the previous full results.

    Parameters
    ----------
    old, new
        Earlier and new payloads.

    Returns
    -------
    dict
        ``new``'s header, with ``old``'s records for cases not in ``new``.
    """
    names = {r["name"] for r in new["results"]}
    kept = [r for r in old.get("results", []) if r["name"] not in names]
    order = [r["name"] for r in old.get("results", [])]
    merged = kept + new["results"]
    merged.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    return {**new, "results": merged, "merged_from": old.get("finished")}


def _by_name(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in payload["results"]}


def _keys(check: Check, ours: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for k in check.keys:
        if "*" in k:
            out += sorted(x for x in peer if fnmatch.fnmatch(x, k) and x in ours
                          and not (k.endswith("*") and not k.endswith("_se") and x.endswith("_se")))
        elif k in peer and k in ours:
            out.append(k)
    return out


def _fixest_factor(rec: dict[str, Any], peer: dict[str, Any]) -> float:
    n, g, t = rec["rows"], rec["areas"], rec["periods"]
    k = int(peer.get("n_coef", 1))
    return math.sqrt((n - k - t) / (n - k - g - t + 1))


def _diff(a: Any, b: Any) -> float:
    if isinstance(a, list) or isinstance(b, list):
        if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
            return math.inf
        return max((_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    if a is None or b is None:
        return math.inf
    return abs(float(a) - float(b)) / max(1.0, abs(float(a)))


def agreement(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every peer estimate compared with ours, as :data:`specs.AGREEMENT` says.

    Parameters
    ----------
    payload
        A results file.

    Returns
    -------
    list of dict
        ``group, peer, key, ours, peer_value, compared, diff, tol, ok, note`` (lists are
        summarised by their largest difference).
    """
    rows: list[dict[str, Any]] = []
    recs = _by_name(payload)
    for rec in payload["results"]:
        if rec["impl"] == "ours" or rec.get("status") != "ok":
            continue
        checks = AGREEMENT.get((rec["case"], rec["impl"]))
        mine = recs.get(f"{rec['group']}/ours")
        if not checks or not mine or mine.get("status") != "ok":
            continue
        ours, peer = mine.get("estimates", {}), rec.get("estimates", {})
        for check in checks:
            keys = _keys(check, ours, peer)
            if not keys:
                rows.append({"group": rec["group"], "peer": rec["impl"], "key": ", ".join(check.keys), "ok": None,
                             "diff": None, "tol": check.tol, "note": "not comparable: no common estimate"})
                continue
            worst: dict[str, Any] | None = None
            for key in keys:
                a, b = ours[key], peer[key]
                compared = b
                if check.convert == "fixest_cr1" and b is not None:
                    compared = float(b) * _fixest_factor(rec, peer)
                if check.convert == "monte_carlo":
                    p = float(a)
                    draws = int(rec["params"].get("draws", "999"))
                    tol = 4 * math.sqrt(p * (1 - p) / draws) + 2 / draws
                    d = abs(float(a) - float(b))
                else:
                    tol = check.tol
                    d = _diff(a, compared)
                row = {"group": rec["group"], "peer": rec["impl"], "key": key, "ours": a, "peer_value": b,
                       "compared": compared, "diff": d, "tol": tol, "ok": d <= tol, "note": check.note}
                if worst is None or (not row["ok"] and worst["ok"]) or (row["ok"] == worst["ok"] and d > worst["diff"]):
                    worst = row
            assert worst is not None
            worst["n_keys"] = len(keys)
            rows.append(worst)
    return rows


def _rec(payload: dict[str, Any], name: str) -> dict[str, Any] | None:
    return _by_name(payload).get(name)


def _secs(r: dict[str, Any] | None) -> float | None:
    return float(r["median_seconds"]) if r and r.get("status") == "ok" else None


def _fastest_peer(payload: dict[str, Any], group: str, exclude: Sequence[str] = ()) -> dict[str, Any] | None:
    peers = [r for r in payload["results"] if r["group"] == group and not r["impl"].startswith("ours")
             and r["impl"] not in exclude and r.get("status") == "ok"]
    return min(peers, key=lambda r: r["median_seconds"]) if peers else None


def _peer_floor(payload: dict[str, Any], group: str) -> str:
    """What the peers that did not finish say about the fastest peer (e.g. 'over 300 s')."""
    bad = [f"{r['impl']}: {r['status']}" + (f" ({r.get('error')})" if r.get("status") == "timeout" else "")
           for r in payload["results"] if r["group"] == group and not r["impl"].startswith("ours")
           and r.get("status") != "ok"]
    return "; ".join(bad)


def targets(payload: dict[str, Any]) -> list[dict[str, str]]:
    """Each target of the issue: what was measured, met or not, and by how much.

    Parameters
    ----------
    payload
        A full-suite results file.

    Returns
    -------
    list of dict
        ``target, measured, met, margin``.
    """
    out: list[dict[str, str]] = []

    def add(key: str, measured: str, met: bool | None, margin: str) -> None:
        text = next(t.text for t in TARGETS if t.key == key)
        out.append({"target": text, "measured": measured,
                    "met": "n/a" if met is None else ("yes" if met else "**no**"), "margin": margin})

    ours = _rec(payload, "cs/3000x240/ours")
    peer = _fastest_peer(payload, "cs/3000x240")
    if _secs(ours) and peer:
        speed = peer["median_seconds"] / ours["median_seconds"]
        add("cs", f"ours {ours['median_seconds']:.2f} s; fastest peer {peer['impl']} {peer['median_seconds']:.2f} s "
            f"({speed:.1f}x)", speed >= 10, f"{speed / 10:.2f} of the 10x target" if speed < 10 else
            f"{speed / 10:.1f}x better than needed")
    else:
        add("cs", _status_text(ours, peer) + "; " + _peer_floor(payload, "cs/3000x240"), None, "not measured")

    ours = _rec(payload, "twfe/10000x240/ours")
    peer = _rec(payload, "twfe/10000x240/pyfixest")
    if _secs(ours) and _secs(peer):
        assert ours and peer
        r = ours["median_seconds"] / peer["median_seconds"]
        fit = _rec(payload, "twfe/10000x240/ours-fit-only")
        alone = (f"; the fit alone (did_twfe.twfe, no Bacon decomposition) {fit['median_seconds']:.2f} s, ratio "
                 f"{fit['median_seconds'] / peer['median_seconds']:.2f}") if fit and _secs(fit) else ""
        add("twfe", f"ours {ours['median_seconds']:.2f} s, pyfixest {peer['median_seconds']:.2f} s (ratio {r:.2f})"
            + alone,
            r <= 1.0, f"{r:.2f}x pyfixest's time" + ("" if r <= 1 else f": {ours['median_seconds'] - peer['median_seconds']:.2f} s too slow"))
    else:
        add("twfe", _status_text(ours, peer), None, "not measured")

    for case in ("event_study", "sun_abraham"):
        ours = _rec(payload, f"{case}/10000x240/ours")
        if _secs(ours):
            assert ours
            s, m = ours["median_seconds"], ours["peak_rss_mb"] / 1000
            ok = s <= 10 and m <= 2
            margin = []
            margin.append(f"time {s / 10:.2f} of the limit" if s <= 10 else f"time {s - 10:.1f} s over ({s / 10:.1f}x)")
            margin.append(f"memory {m / 2:.2f} of the limit" if m <= 2 else f"memory {m - 2:.2f} GB over ({m / 2:.1f}x)")
            floor = _peer_floor(payload, f"{case}/10000x240")
            add("event", f"{case}: {s:.2f} s, peak {m:.2f} GB" + (f" (peers: {floor})" if floor else ""), ok,
                "; ".join(margin))
        else:
            add("event", f"{case}: " + _status_text(ours, None), False if ours else None, "did not finish")

    ours = _rec(payload, "wild/3000x240/ours")
    if _secs(ours):
        assert ours
        s = ours["median_seconds"]
        add("wild", f"{s:.2f} s (peak {ours['peak_rss_mb'] / 1000:.2f} GB)", s <= 10,
            f"{s / 10:.2f} of the limit" if s <= 10 else f"{s - 10:.1f} s over ({s / 10:.1f}x)")
    else:
        add("wild", _status_text(ours, None), False if ours else None, "did not finish")

    ours = _rec(payload, "its_poisson/3000x240/ours")
    peer = _rec(payload, "its_poisson/3000x240/statsmodels")
    both = _rec(payload, "its/3000x240/ours-no-simulation")
    both_peer = _rec(payload, "its/3000x240/statsmodels")
    sim = _rec(payload, "its/3000x240/ours")
    extra = ""
    if _secs(both) and _secs(both_peer):
        assert both and both_peer
        extra += (f"; OLS+HAC and Poisson together: ours {both['median_seconds']:.2f} s, loop "
                  f"{both_peer['median_seconds']:.2f} s ({both_peer['median_seconds'] / both['median_seconds']:.1f}x)")
    if _secs(sim):
        assert sim
        extra += f"; with the simulated estimands (2,000 draws, which the loop does not compute) {sim['median_seconds']:.2f} s"
    if _secs(ours) and _secs(peer):
        assert ours and peer
        speed = peer["median_seconds"] / ours["median_seconds"]
        add("its", f"Poisson with offset and seasonality: ours {ours['median_seconds']:.2f} s, statsmodels loop "
            f"{peer['median_seconds']:.2f} s ({speed:.1f}x){extra}", speed >= 20,
            f"{speed / 20:.2f} of the 20x target" if speed < 20 else f"{speed / 20:.1f}x better than needed")
    else:
        add("its", _status_text(ours, peer) + extra, None, "not measured")

    ours = _rec(payload, "e2e/3000x240/ours")
    if _secs(ours):
        assert ours
        s, m = ours["median_seconds"], ours["peak_rss_mb"] / 1000
        margin = [f"time {s / 60:.2f} of the limit" if s <= 60 else f"time {s - 60:.0f} s over ({s / 60:.1f}x)",
                  f"memory {m / 4:.2f} of the limit" if m <= 4 else f"memory {m - 4:.2f} GB over ({m / 4:.1f}x)"]
        add("e2e", f"{s:.1f} s, peak {m:.2f} GB", s <= 60 and m <= 4, "; ".join(margin))
    else:
        add("e2e", _status_text(ours, None), False if ours else None, "did not finish")

    lin = memory_rows(payload)
    verdicts = []
    met: bool | None = None
    for case, rows in lin.items():
        if len(rows) < 3:
            continue
        base, top = rows[1]["increment_per_row"], rows[-1]["increment_per_row"]
        ratio = top / base if base else math.inf
        ok = ratio <= 1.25
        met = ok if met is None else met and ok
        verdicts.append(f"{case}: bytes/row {rows[0]['increment_per_row']:.0f} / {base:.0f} / {top:.0f} "
                        f"(10x vs 3x: {ratio:.2f})")
    add("memory", "; ".join(verdicts) or "not measured", met,
        "linear if the 10x run's increment per row is within 1.25x of the 3x run's" if verdicts else "not measured")
    return out


def _status_text(ours: dict[str, Any] | None, peer: dict[str, Any] | None) -> str:
    parts = []
    for who, r in (("ours", ours), ("peer", peer)):
        if r is None:
            continue
        if r.get("status") == "ok":
            parts.append(f"{who} {r['median_seconds']:.2f} s")
        else:
            parts.append(f"{who}: {r.get('status')} ({str(r.get('error'))[:200]})")
    return "; ".join(parts) or "not run"


def memory_rows(payload: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Peak memory per row of our CS and TWFE runs at each size with the same number of months.

    Parameters
    ----------
    payload
        A results file.

    Returns
    -------
    dict
        ``cs``/``twfe`` -> rows sorted by size: ``size, rows, peak_rss_mb, increment_mb``
        (peak minus RSS after loading the data), ``peak_per_row`` and ``increment_per_row``
        (bytes).
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for case in ("cs", "twfe"):
        rows = []
        for r in payload["results"]:
            if r["impl"] != "ours" or r.get("status") != "ok" or r.get("kind") != case:
                continue
            inc = float(r["peak_rss_mb"]) - float(r.get("rss_after_load_mb") or 0)
            rows.append({"size": r["size"], "periods": r["periods"], "rows": r["rows"],
                         "peak_rss_mb": r["peak_rss_mb"], "increment_mb": inc,
                         "peak_per_row": r["peak_rss_mb"] * 1e6 / r["rows"], "increment_per_row": inc * 1e6 / r["rows"]})
        if rows:
            common = max({x["periods"] for x in rows}, key=lambda p: sum(x["periods"] == p for x in rows))
            rows = sorted((x for x in rows if x["periods"] == common), key=lambda x: x["rows"])
            out[case] = rows
    return out


def _fmt_s(r: dict[str, Any]) -> str:
    if r.get("status") != "ok":
        return r.get("status", "?")
    return f"{r['median_seconds']:.3f}"


def _ratio(payload: dict[str, Any], r: dict[str, Any]) -> str:
    if r["impl"].startswith("ours") or r.get("status") != "ok":
        return ""
    mine = _rec(payload, f"{r['group']}/ours")
    if not _secs(mine):
        return ""
    assert mine
    return f"{mine['median_seconds'] / r['median_seconds']:.3g}"


def _agree_text(rows: list[dict[str, Any]], group: str, peer: str) -> str:
    mine = [x for x in rows if x["group"] == group and x["peer"] == peer]
    if not mine:
        return ""
    if any(x["ok"] is False for x in mine):
        return "**differs**"
    if all(x["ok"] is None for x in mine):
        return "n/c"
    return "yes"


def text_table(payload: dict[str, Any]) -> str:
    """The results as a plain-text table (printed by ``run.py``).

    Parameters
    ----------
    payload
        A results file.

    Returns
    -------
    str
        The table.
    """
    agree = agreement(payload)
    head = f"{'case':24s} {'impl':16s} {'status':14s} {'median s':>10s} {'runs':>4s} {'peak MB':>9s} {'ours/peer':>9s} agrees"
    lines = [head, "-" * len(head)]
    for r in payload["results"]:
        status = r.get("status", "?")
        med = f"{r['median_seconds']:.3f}" if status == "ok" else "-"
        peak = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "-"
        lines.append(f"{r['group']:24s} {r['impl']:16s} {status[:14]:14s} {med:>10s} {r.get('n_runs', 0):>4d} "
                     f"{peak:>9s} {_ratio(payload, r):>9s} {_agree_text(agree, r['group'], r['impl'])}")
        if status not in ("ok",) and r.get("error"):
            lines.append(f"{'':24s}   -> {str(r['error'])[:150]}")
    bad = [x for x in agree if x["ok"] is False]
    for x in bad:
        lines.append(f"DISAGREES {x['group']} {x['peer']} {x['key']}: ours {x['ours']} peer {x['compared']} "
                     f"(diff {x['diff']:.3g} > tol {x['tol']:.3g})")
    return "\n".join(lines)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(payload: dict[str, Any]) -> str:
    """The generated part of ``RESULTS.md``.

    Parameters
    ----------
    payload
        A full-suite results file.

    Returns
    -------
    str
        Markdown: machine and versions, figures, agreement, targets, memory.
    """
    m, v = payload["machine"], payload["versions"]
    agree = agreement(payload)
    out = [
        f"Generated by `{payload['command']}` on {payload['finished']}"
        + (f" (merged with the run of {payload['merged_from']})" if payload.get("merged_from") else "") + ".",
        "",
        "### Machine and versions",
        "",
        f"- CPU: {m['cpu']}; {m['cores']} cores; {m['ram_gb']} GB RAM; {m['platform']}",
        f"- load average at start {m['load_average']}, at end {m.get('load_average_end')}",
        f"- Python {v['python']}; evaluate {v['dev'].get('evaluate')} (git {v.get('git')}); "
        + ", ".join(f"{k} {x}" for k, x in v["dev"].items() if k != "evaluate" and x),
        "- peers (Python " + str(v["peers"].get("python")) + "): "
        + ", ".join(f"{k} {x}" for k, x in v["peers"].items() if k != "python" and x),
        (f"- {payload['runs_per_case']} fresh process(es) per case (median shown; a case whose first run took "
         f"over 300 s is not repeated); children capped at {payload['memory_limit_gb']} GB of address space; "
         f"warm-up: {payload.get('warmup') or 'none'}; threads per child: "
         f"{payload.get('threads') or 'library defaults'}"),
        "",
        "### Figures",
        "",
        ("Time: median wall time of the estimator call inside the child, after the data are loaded "
         "(end to end: the whole `evaluate run` command). Peak: peak RSS of the child (end to end: of "
         "the `evaluate run` process), including the loaded panel and imported libraries. ours/peer: "
         "ratio of median times in this run (below 1: we are faster)."),
        "",
        "| case | size | implementation | median s | min-max s | runs | peak MB | after load MB | ours/peer | agrees | note |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in payload["results"]:
        ok = r.get("status") == "ok"
        rng = f"{r['min_seconds']:.3f}-{r['max_seconds']:.3f}" if ok else ""
        peak = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else ""
        after = f"{r['rss_after_load_mb']:.0f}" if ok and r.get("rss_after_load_mb") else ""
        impl = r["impl"] + (f" {r['version']}" if r.get("version") and r["impl"] != "ours" else "")
        note = r["note"] if ok else f"{r.get('status')}: {str(r.get('error'))[:300]}"
        out.append(f"| {r['case']} | {r['size']} | {impl} | {_fmt_s(r)} | {rng} | {r.get('n_runs', 0)} | {peak} | "
                   f"{after} | {_ratio(payload, r)} | {_agree_text(agree, r['group'], r['impl'])} | {_md_escape(note)} |")
    out += ["", "### Agreement with the peers", "",
            "Largest difference per check, `|ours - peer| / max(1, |ours|)` (after the stated conversion).", "",
            "| case | peer | estimate (worst of n) | ours | peer | diff | tolerance | ok | convention |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for x in agree:
        def num(val: Any) -> str:
            if isinstance(val, list):
                return f"[{len(val)} values]"
            return "" if val is None else f"{float(val):.10g}"
        diff = "" if x["diff"] is None else f"{x['diff']:.2e}"
        ok = {True: "yes", False: "**no**", None: "n/c"}[x["ok"]]
        out.append(f"| {x['group']} | {x['peer']} | {x['key']} ({x.get('n_keys', 0)}) | {num(x.get('ours'))} | "
                   f"{num(x.get('compared'))} | {diff} | {x['tol']:.1e} | {ok} | {_md_escape(x['note'])} |")
    if payload["suite"] == "full":
        out += ["", "### Targets", "", "| target | measured | met | margin |", "| --- | --- | --- | --- |"]
        for t in targets(payload):
            out.append(f"| {t['target']} | {_md_escape(t['measured'])} | {t['met']} | {_md_escape(t['margin'])} |")
    out += ["", "### Memory per row (ours)", "",
            "| estimator | size | rows | peak MB | peak - after load MB | peak bytes/row | increment bytes/row |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for case, rows in memory_rows(payload).items():
        for x in rows:
            out.append(f"| {case} | {x['size']} | {x['rows']:,} | {x['peak_rss_mb']:.0f} | {x['increment_mb']:.0f} | "
                       f"{x['peak_per_row']:.0f} | {x['increment_per_row']:.0f} |")
    return "\n".join(out) + "\n"


def write_markdown(payload: dict[str, Any], path: Path) -> None:
    """Rewrite the generated part of ``path`` (create the file if needed).

    Parameters
    ----------
    payload
        A results file.
    path
        ``RESULTS.md``.
    """
    body = f"{BEGIN}\n{markdown(payload)}{END}"
    if path.exists() and BEGIN in (text := path.read_text()) and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        path.write_text(before + body + after)
    else:
        path.write_text("# Benchmark results\n\n" + body + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Print a results file as a table and optionally rewrite ``RESULTS.md``.

    Parameters
    ----------
    argv
        Command-line arguments.

    Returns
    -------
    int
        Exit status.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", type=Path, default=HERE / "results" / "latest.json")
    p.add_argument("--markdown", type=Path, help="rewrite the generated part of this file (e.g. benchmarks/RESULTS.md)")
    a = p.parse_args(argv)
    payload = json.loads(a.results.read_text())
    print(text_table(payload))
    if a.markdown:
        write_markdown(payload, a.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

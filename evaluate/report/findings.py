"""Plain-language findings: one sentence, one verdict and one caveat per result.

The verdict follows the interval, never the point estimate alone: "harm reduced" only when the
whole interval lies on the side of fewer harms, "harm increased" when it lies on the other side,
and "no clear evidence either way" when it includes no change. Results on police activity are
never called harm reduction: their verdict says police activity rose or fell, and their sentence
says it is a change in police activity, not a measure of harm.

Which estimand speaks for a result depends on what it carries (so results from methods added
later are still summarised): ``relative_change`` with ``cumulative_averted_per_100k`` (ITS),
``difference_in_changes`` (describe), else the first of ``att``, ``rate_ratio``,
``level_change`` or any estimand with an interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluate.results.effect import EffectResult

__all__ = ["Finding", "finding", "findings_for", "failed_checks", "caveat", "METHOD_TEXT", "method_text", "lower_first"]

METHOD_TEXT: dict[str, str] = {
    "describe": (
        "Compares the average of each outcome before and after the start in the treated areas "
        "with the change over the same time in comparison areas, each area counting once. It is "
        "a transparent first look, not a causal estimate: the difference in changes also "
        "reflects anything else that differed between the two groups of areas."
    ),
    "its": (
        "Interrupted time series: a segmented regression fitted to the series before the start "
        "is projected forward as the counterfactual (what would have happened without the "
        "intervention) and compared with what happened. It is credible if the pre-period trend "
        "and seasonality would have continued and nothing else changed at the same time."
    ),
    "did": (
        "Difference-in-differences: the change in treated areas is compared with the change in "
        "comparison areas over the same periods. It relies on the two groups following parallel "
        "trends had there been no intervention, which the pre-period checks test."
    ),
    "synthetic_control": (
        "Synthetic control: a weighted combination of comparison areas that tracks the treated "
        "area before the start serves as its counterfactual afterwards. It relies on that match "
        "continuing to hold without the intervention."
    ),
}
"""Two sentences per method for the report; methods added later register theirs here."""


def method_text(method: str, *, controlled: bool = False) -> str:
    """The method in two sentences (a generic sentence for methods without one)."""
    text = METHOD_TEXT.get(
        method,
        f"Method '{method}'. Its estimates and diagnostics are listed below and in results.json.",
    )
    if method == "its" and controlled:
        text += " A comparison series takes out changes that happened in both."
    return text


@dataclass(frozen=True)
class Finding:
    """The plain-language summary of one result.

    Attributes
    ----------
    result
        The result summarised.
    verdict
        Short verdict ("Harm reduced", "No clear evidence either way", "Police activity rose").
    style
        ``better``, ``worse``, ``unclear`` or ``activity`` (for styling; never the only cue).
    sentence
        The finding in one or two sentences.
    caveat
        One caveat, the most important one.
    estimand
        The estimand the sentence rests on.
    """

    result: EffectResult
    verdict: str
    style: str
    sentence: str
    caveat: str
    estimand: str
    checks: list[str] = field(default_factory=list)


def _pct(x: float) -> str:
    return f"{abs(x) * 100:.0f}%"


def _signed_pct(x: float) -> str:
    return f"{x * 100:+.0f}%".replace("-", "\u2212")


def _num(x: float) -> str:
    a = abs(x)
    if a >= 100:
        return f"{a:,.0f}"
    if a >= 10:
        return f"{a:,.1f}"
    return f"{a:,.2g}" if a < 1 else f"{a:,.2f}"


def _signed(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    return ("\u2212" if x < 0 else "+") + _num(x)


def _fewer_more(lo: float, hi: float, unit: str) -> str:
    """A range of 'averted' values (positive: fewer) in words."""
    def one(v: float) -> str:
        return f"{_num(v)} {'fewer' if v > 0 else 'more'}" if v != 0 else "no change"
    if lo > 0 or hi < 0:
        a, b = sorted((abs(lo), abs(hi)))
        return f"{_num(a)} to {_num(b)} {'fewer' if lo > 0 else 'more'}{unit}"
    return f"{one(hi)} to {one(lo)}{unit}"


def _interval(result: EffectResult) -> str:
    return f"{result.ci_level:.0%} CI"


def _est(result: EffectResult, name: str) -> pd.Series | None:
    e = result.estimates.set_index("estimand")
    if name not in e.index:
        return None
    row = e.loc[name]
    return row if np.isfinite(float(row["estimate"])) else None


def _verdict(role: str, lo: float, hi: float, *, descriptive: bool = False) -> tuple[str, str]:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "No interval: cannot say", "unclear"
    if lo <= 0 <= hi:
        return "No clear evidence either way", "unclear" if role != "activity" else "activity"
    fell = hi < 0
    rel = " relative to comparison areas" if descriptive else ""
    if role == "harm":
        if descriptive:
            return (f"Harm fell{rel}", "better") if fell else (f"Harm rose{rel}", "worse")
        return ("Harm reduced", "better") if fell else ("Harm increased", "worse")
    if role == "benefit":
        return (f"Benefit fell{rel}", "worse") if fell else (f"Benefit rose{rel}", "better")
    if role == "activity":
        return (f"Police activity fell{rel}", "activity") if fell else (f"Police activity rose{rel}", "activity")
    return (f"Fell{rel}", "unclear") if fell else (f"Rose{rel}", "unclear")


def lower_first(text: str) -> str:
    """Lower-case a label's first letter for use mid-sentence ("Drug deaths" -> "drug deaths"),
    leaving acronyms and codes ("SIM26", "ITS") alone."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


GENERIC_UNITS = ("", "treated total", "all areas")
"""Units that name a sample rather than one area (no "in <unit>" in sentences)."""


def _subject(result: EffectResult) -> str:
    if result.unit == "treated total":
        return f"{result.outcome_label} in the treated areas (their total)"
    unit = "" if result.unit in GENERIC_UNITS else f" in {result.unit}"
    return f"{result.outcome_label}{unit}"


def _its_sentence(result: EffectResult, iv: str, is_count: bool) -> tuple[str, str, str, str] | None:
    rel = _est(result, "relative_change")
    ci = _interval(result)
    subject = _subject(result)
    parts: list[str] = []
    if rel is not None:
        est, lo, hi = float(rel["estimate"]), float(rel["ci_lower"]), float(rel["ci_upper"])
        verdict, style = _verdict(result.outcome_role, lo, hi)
        if hi < 0:
            parts.append(f"{subject} fell {_pct(est)} ({ci} {_pct(hi)} to {_pct(lo)}) after {iv} began")
        elif lo > 0:
            parts.append(f"{subject} rose {_pct(est)} ({ci} {_pct(lo)} to {_pct(hi)}) after {iv} began")
        else:
            parts.append(
                f"For {lower_first(subject)}, the estimated change after {iv} began is {_signed_pct(est)} "
                f"({ci} {_signed_pct(lo)} to {_signed_pct(hi)}), an interval that includes no change"
            )
        estimand = "relative_change"
    else:
        lvl = _est(result, "level_change")
        if lvl is None:
            return None
        est, lo, hi = float(lvl["estimate"]), float(lvl["ci_lower"]), float(lvl["ci_upper"])
        verdict, style = _verdict(result.outcome_role, lo, hi)
        versus = " compared with the comparison series" if result.estimator.startswith("controlled") else ""
        parts.append(
            f"{subject} changed by {_signed(est)} per period at the start of {iv}{versus} "
            f"({ci} {_signed(lo)} to {_signed(hi)})"
        )
        estimand = "level_change"
    averted = _est(result, "cumulative_averted_per_100k")
    if averted is not None:
        a, alo, ahi = float(averted["estimate"]), float(averted["ci_lower"]), float(averted["ci_upper"])
        what = "" if is_count else " index units"
        n_post = result.diagnostics.get("n_post")
        over = f"over the {n_post} periods after the start" if n_post else "over the post-period"
        if a != 0 and np.isfinite(a):
            parts[-1] += (f", about {_num(a)} {'fewer' if a > 0 else 'more'}{what} per 100,000 residents {over}"
                          f" ({ci} {_fewer_more(alo, ahi, '')})")
    return ". ".join(parts) + ".", verdict, style, estimand


def _describe_sentence(result: EffectResult, iv: str) -> tuple[str, str, str, str] | None:
    dic = _est(result, "difference_in_changes")
    ct, cc = _est(result, "change_treated"), _est(result, "change_control")
    if dic is None:
        return None
    est, lo, hi = float(dic["estimate"]), float(dic["ci_lower"]), float(dic["ci_upper"])
    verdict, style = _verdict(result.outcome_role, lo, hi, descriptive=True)
    ci = _interval(result)
    interval = f"{ci} {_signed(lo)} to {_signed(hi)}" if np.isfinite(lo) and np.isfinite(hi) else "no interval could be computed"
    if ct is not None and cc is not None:
        text = (f"From before to after {iv} began, {lower_first(result.outcome_label)} changed by "
                f"{_signed(float(ct['estimate']))} in the treated areas and by {_signed(float(cc['estimate']))} in "
                f"comparison areas: a difference in changes of {_signed(est)} ({interval})")
    else:
        text = (f"From before to after {iv} began, the change in {lower_first(result.outcome_label)} in the "
                f"treated areas differed from that in comparison areas by {_signed(est)} ({interval})")
    return text + ". A descriptive comparison, not a causal estimate.", verdict, style, "difference_in_changes"


def _generic_sentence(result: EffectResult, iv: str) -> tuple[str, str, str, str] | None:
    e = result.estimates.drop_duplicates("estimand").set_index("estimand")
    finite = e.index[np.isfinite(e["ci_lower"].to_numpy(dtype=float)) & np.isfinite(e["estimate"].to_numpy(dtype=float))]
    order = [n for n in ("att", "rate_ratio", "relative_change", "level_change") if n in finite]
    names = order + [str(n) for n in finite if str(n) not in order]
    if not names:
        return None
    name = names[0]
    row = e.loc[name]
    est, lo, hi = float(row["estimate"]), float(row["ci_lower"]), float(row["ci_upper"])
    ci = _interval(result)
    subject = _subject(result)
    if name in ("rate_ratio", "relative_change"):
        shift = 1.0 if name == "rate_ratio" else 0.0
        est, lo, hi = est - shift, lo - shift, hi - shift
        verdict, style = _verdict(result.outcome_role, lo, hi)
        if hi < 0:
            text = f"{subject} fell {_pct(est)} ({ci} {_pct(hi)} to {_pct(lo)}) after {iv} began"
        elif lo > 0:
            text = f"{subject} rose {_pct(est)} ({ci} {_pct(lo)} to {_pct(hi)}) after {iv} began"
        else:
            text = (f"For {lower_first(subject)}, the estimated change after {iv} began is {_signed_pct(est)} "
                    f"({ci} {_signed_pct(lo)} to {_signed_pct(hi)}), an interval that includes no change")
        return text + ".", verdict, style, name
    verdict, style = _verdict(result.outcome_role, lo, hi)
    if name == "att":
        text = (f"For {lower_first(subject)}, the average effect on the treated areas after {iv} began is "
                f"{_signed(est)} in the outcome's units ({ci} {_signed(lo)} to {_signed(hi)})")
    else:
        text = f"{subject} after {iv} began: {name.replace('_', ' ')} {_signed(est)} ({ci} {_signed(lo)} to {_signed(hi)})"
    return text + ".", verdict, style, name


_CAVEATS: list[tuple[str, str]] = [
    ("placebo", "Placebo dates before the start show changes as large as this one, so it may be noise "
                "or a change already under way."),
    ("short pre-period", "The period before the start is short, so the expected trend rests on little data."),
    ("two seasonal cycles", "Less than two years of data before the start: seasonal patterns are poorly "
                            "pinned down."),
    ("autocorrelated", "Successive periods are correlated in a way the standard errors ignore, so the "
                       "interval is probably too narrow."),
    ("Newey-West", "The standard errors used are known to be too small for this design; the interval "
                   "is too narrow."),
    ("did not converge", "The model did not converge; treat the estimate with caution."),
    ("overdispersion", "The counts vary more than the model assumes, so the interval is too narrow."),
    ("only 1 treated area", "Only one treated area: no interval can be computed, and the change may "
                            "reflect anything else that happened in that area."),
    ("no comparison areas", "There are no comparison areas, so the change mixes the intervention with "
                            "everything else that changed over time."),
    ("poor pre-period fit", "The comparison does not track the treated area well before the start, so the "
                            "estimate extrapolates beyond what the comparison areas can show."),
    ("of the TWFE estimate's weight", "Part of this two-way fixed-effects estimate compares areas with others "
                                      "already treated; if effects change over time it is biased."),
    ("donors", "Few comparison areas: the interval and p-value rest on few areas."),
]


def failed_checks(result: EffectResult) -> list[str]:
    """Diagnostics that signal a problem, in words (highlighted in the report).

    Reads the diagnostics every method may carry: residual autocorrelation tests, the
    Durbin-Watson statistic, overdispersion, convergence, placebo dates, and any test whose name
    mentions pre-trends or parallel trends (DiD event studies) with p < 0.05.
    """
    d = result.diagnostics
    out = []
    ac = d.get("autocorrelation") or {}
    for key, name in (("ljung_box", "Ljung-Box"), ("breusch_godfrey", "Breusch-Godfrey")):
        p = (ac.get(key) or {}).get("p_value")
        if isinstance(p, float) and p < 0.05:
            out.append(f"{name} test finds autocorrelation in the residuals (p = {p:.3f})")
    dw = ac.get("durbin_watson")
    if isinstance(dw, float) and not 1.5 <= dw <= 2.5:
        out.append(f"Durbin-Watson statistic {dw:.2f} is far from 2 (successive residuals are correlated)")
    disp = (d.get("overdispersion") or {}).get("pearson_dispersion")
    if d.get("model") == "poisson" and isinstance(disp, float) and disp > 1.5:
        out.append(f"overdispersion: Pearson dispersion {disp:.2f} with a Poisson model that assumes 1")
    if d.get("converged") is False:
        out.append("the model's likelihood did not converge")
    pl = d.get("placebo") or {}
    lvl = _est(result, "level_change")
    if pl.get("n", 0) >= 5 and pl.get("placebo_p_value", 0) > 0.1 and lvl is not None and float(lvl["p_value"]) < 0.05:
        out.append(f"placebo dates give changes as large as the real one (placebo p = {pl['placebo_p_value']:.2f})")

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            p = node.get("p_value")
            if re.search(r"pre_?trend|parallel", path, re.I) and isinstance(p, float) and p < 0.05:
                out.append(f"{path.strip('.').replace('_', ' ')}: p = {p:.3f} (pre-trends differ)")
            for k, v in node.items():
                if k != "p_value":
                    walk(v, f"{path}.{k}")

    walk({k: v for k, v in d.items() if k not in ("autocorrelation", "placebo", "coefficients")}, "")
    return out


def caveat(result: EffectResult, checks: list[str] | None = None) -> str:
    """The single most important caveat of a result, in plain language."""
    for w in result.warnings:
        for key, text in _CAVEATS:
            if key.lower() in w.lower():
                return text
    checks = failed_checks(result) if checks is None else checks
    for c in checks:
        if "autocorrelation" in c or "Durbin" in c:
            return ("Tests find correlation between successive periods that the model may not fully "
                    "capture, so the interval may be too narrow.")
        if "pre-trends" in c:
            return "Treated and comparison areas were already moving differently before the start."
        if "placebo" in c:
            return _CAVEATS[0][1]
    if result.warnings:
        return result.warnings[0][0].upper() + result.warnings[0][1:].rstrip(".") + "."
    if result.method == "describe":
        return ("A descriptive before-and-after comparison with comparison areas, not a causal estimate: "
                "other differences between the areas could explain it.")
    return "An observational estimate: other changes at the same time could explain it."


def finding(result: EffectResult, *, intervention_label: str = "", is_count: bool = True) -> Finding:
    """The plain-language summary of one result.

    Parameters
    ----------
    result
        The result.
    intervention_label
        Plain-language name of the intervention ("the enforcement crackdown").
    is_count
        Whether the outcome counts events (for the "fewer per 100,000" wording).

    Returns
    -------
    Finding
    """
    iv = intervention_label or result.intervention or "the intervention"
    if result.method == "its":
        made = _its_sentence(result, iv, is_count)
    elif result.method == "describe":
        made = _describe_sentence(result, iv)
    else:
        made = None
    made = made or _generic_sentence(result, iv)
    if made is None:
        sentence, verdict, style, estimand = (f"{_subject(result)}: no estimate with an interval.",
                                              "No estimate", "unclear", "")
    else:
        sentence, verdict, style, estimand = made
    if result.outcome_role == "activity":
        sentence = f"Police activity: {lower_first(sentence)}"
        sentence = sentence.rstrip(".") + " (a change in police activity, not a measure of harm)."
        style = "activity"
    checks = failed_checks(result)
    return Finding(result=result, verdict=verdict, style=style, sentence=sentence,
                   caveat=caveat(result, checks), estimand=estimand, checks=checks)


def findings_for(content: Any) -> list[Finding]:
    """The finding of every result of a run (``content``: a :class:`~evaluate.report.content.ReportContent`)."""
    from evaluate.report.publish import count_variable

    out = []
    for r in content.results:
        analysis = content.analysis(r.analysis)
        panel = content.panel_of(analysis) if analysis else None
        is_count = panel is not None and count_variable(r.outcome, panel) is not None
        label = content.intervention_label(r.intervention)
        out.append(finding(r, intervention_label=f"the {lower_first(label)}", is_count=is_count))
    return out

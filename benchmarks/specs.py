"""The benchmark suite: which cases run, at which sizes, against which peers, compared how.

A :class:`Spec` is one implementation of one case at one size (``cs/3000x240/ours``); specs with
the same ``group`` (``cs/3000x240``) are compared with each other. :func:`suite` lists them for
the full run and for ``--quick`` (small sizes, fewer peers), :data:`AGREEMENT` says how each
case's estimates are compared, and :data:`TARGETS` the issue's performance targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AGREEMENT", "TARGETS", "WARMUP_SIZE", "Check", "Spec", "Target", "suite"]

WARMUP_SIZE = (60, 48)
"""Areas x months of the panel every child calls its estimator on once before timing."""


@dataclass(frozen=True)
class Spec:
    """One implementation of one benchmark case at one size.

    Attributes
    ----------
    case
        Case name (``cs``, ``twfe``, ``event_study``, ``sun_abraham``, ``wild``, ``its``,
        ``e2e``); memory linearity uses the ``cs`` and ``twfe`` cases at three sizes.
    impl
        ``ours``, a variant of ours (``ours-...``, compared with ``ours`` but not counted as a
        peer), or the peer's name (``pyfixest``, ``csdid``, ...).
    script, kind
        Child script (relative to ``benchmarks/``) and its ``--case``.
    venv
        ``dev`` (ours: the Python running ``run.py``) or ``peers``.
    areas, periods
        Panel size.
    params
        ``--param`` values.
    timeout
        Seconds before a run is stopped and recorded as ``over <timeout> s``.
    package
        The pip package whose version is recorded (and whose install status is checked).
    note
        What is being timed, in a few words.
    """

    case: str
    impl: str
    script: str
    kind: str
    venv: Literal["dev", "peers"]
    areas: int
    periods: int
    params: dict[str, str] = field(default_factory=dict)
    timeout: float = 1200.0
    package: str | None = None
    note: str = ""

    @property
    def size(self) -> str:
        """``<areas>x<periods>``."""
        return f"{self.areas}x{self.periods}"

    @property
    def group(self) -> str:
        """``<case>/<size>``: the specs compared with each other."""
        return f"{self.case}/{self.size}"

    @property
    def name(self) -> str:
        """``<case>/<size>/<impl>``, unique in the suite."""
        return f"{self.group}/{self.impl}"


@dataclass(frozen=True)
class Check:
    """How one peer's estimate is compared with ours.

    Attributes
    ----------
    keys
        Estimate names compared (``*`` at the end: every key with that prefix, e.g. ``att_e*``).
    tol
        Tolerance on ``|ours - peer| / max(1, |ours|)`` (lists: the largest over elements).
    convert
        A conversion applied to the peer's value first: ``fixest_cr1`` rescales fixest's CR1
        standard error to ours (see :data:`AGREEMENT`); ``monte_carlo`` compares bootstrap
        p-values within their Monte Carlo error instead of ``tol``.
    note
        The convention, stated in the results.
    """

    keys: tuple[str, ...]
    tol: float
    convert: str | None = None
    note: str = ""


CS_CONVENTION = ("same as R did 2.3 (no covariates, never-treated controls, varying base period, "
                 "analytic SEs)")
FIXEST_CR1 = ("fixest/pyfixest CR1 does not count fixed effects nested in the clusters: "
              "K = k + T against ours K = k + G + T - 1 (R vcovCL HC1 / Stata); the peer's SE is "
              "multiplied by sqrt((N - k - T) / (N - k - G - T + 1)) before comparing")

AGREEMENT: dict[tuple[str, str], list[Check]] = {
    ("cs", "csdid"): [Check(("att", "att_se", "att_dynamic", "att_dynamic_se", "att_group", "att_group_se",
                             "att_calendar", "att_calendar_se"), 1e-8, note=CS_CONVENTION)],
    ("cs", "moderndid"): [Check(("att", "att_se", "att_dynamic", "att_dynamic_se", "att_group", "att_group_se",
                                 "att_calendar", "att_calendar_se"), 1e-8, note=CS_CONVENTION)],
    ("cs", "differences"): [Check(("att", "att_se", "att_dynamic", "att_dynamic_se", "att_group",
                                   "att_group_se", "att_calendar", "att_calendar_se"), 1e-8,
                                  note=CS_CONVENTION + "; differences' event/cohort/time 'overall'")],
    ("cs", "diff-diff"): [Check(("att", "att_se", "att_e0", "att_e0_se", "att_e5", "att_e5_se"), 1e-8,
                                note="diff-diff has no calendar aggregation and no overall of the event-study "
                                     "or group aggregations: the simple ATT and the event-time effects e=0, 5 "
                                     "are compared")],
    ("twfe", "pyfixest"): [Check(("att",), 1e-8), Check(("se",), 1e-6, "fixest_cr1", FIXEST_CR1)],
    ("twfe", "ours-fit-only"): [Check(("att", "se"), 1e-10, note="the same fit, without the Bacon decomposition")],
    ("event_study", "pyfixest"): [Check(("att_e*",), 1e-8, note="coefficients"),
                                  Check(("att_e*_se",), 1e-6, "fixest_cr1", FIXEST_CR1)],
    ("event_study", "pyfixest-did2s"): [],
    ("sun_abraham", "pyfixest"): [Check(("att", "att_e*"), 1e-8,
                                        note="cohort x relative-time coefficients aggregated with cohort-share "
                                             "weights (fixest sunab)"),
                                  Check(("att_se", "att_e*_se"), 1e-6, "fixest_cr1", FIXEST_CR1)],
    ("wild", "pyfixest"): [Check(("att",), 1e-8), Check(("p_value",), 0.0, "monte_carlo",
                                                        "different random draws: |p - p'| <= 4 sqrt(p(1-p)/B) + 2/B")],
    ("wild", "wildboottest"): [Check(("att",), 1e-8), Check(("p_value",), 0.0, "monte_carlo",
                                                            "different random draws: |p - p'| <= 4 sqrt(p(1-p)/B) + 2/B")],
    ("its", "ours-no-simulation"): [Check(("level_ols", "level_poisson", "level_ols_se"), 1e-10,
                                          note="the same fits without the simulated estimands")],
    ("its", "statsmodels"): [Check(("level_ols",), 1e-8, note="OLS level change of every series"),
                             Check(("level_poisson",), 1e-6, note="Poisson GLM level change (IRLS tolerance)"),
                             Check(("level_ols_se",), 1e-6,
                                   note="Newey-West SE (statsmodels HAC, lags floor(4 (T/100)^(2/9)))")],
    ("its_poisson", "statsmodels"): [Check(("level_poisson",), 1e-6,
                                           note="Poisson GLM level change (IRLS tolerance)")],
}
"""``(case, peer) -> checks`` of the peer's estimates against ours (no checks: timed only)."""


@dataclass(frozen=True)
class Target:
    """A performance target of the issue.

    Attributes
    ----------
    key
        Identifier.
    text
        The target as the issue states it.
    """

    key: str
    text: str


TARGETS: tuple[Target, ...] = (
    Target("cs", "Callaway-Sant'Anna at 3,000 x 240 at least 10x faster than the fastest Python peer"),
    Target("twfe", "TWFE at 10,000 x 240 no slower than pyfixest"),
    Target("event", "event study and Sun-Abraham at 10,000 x 240 in <= 10 s and <= 2 GB"),
    Target("wild", "999-draw wild cluster bootstrap at 3,000 x 240 in <= 10 s"),
    Target("its", "per-area ITS for 3,000 areas >= 20x faster than the statsmodels loop"),
    Target("e2e", "end-to-end national run <= 60 s and <= 4 GB"),
    Target("memory", "memory linear in rows (CS and TWFE at 1x, 3x, 10x rows)"),
)


def _cs(areas: int, periods: int, peers: bool, slow_peers: bool) -> list[Spec]:
    """Callaway-Sant'Anna: ours and the peers (``slow_peers``: also moderndid and differences)."""
    out = [Spec("cs", "ours", "ours.py", "cs", "dev", areas, periods, note="evaluate.did(callaway_santanna)")]
    if peers:
        fam = "peers/peer_csdid_family.py"
        out += [
            Spec("cs", "diff-diff", fam, "diff_diff", "peers", areas, periods, package="diff-diff",
                 note="CallawaySantAnna + aggregate"),
            Spec("cs", "csdid", fam, "csdid", "peers", areas, periods, package="csdid", note="ATTgt + aggte"),
        ]
        if slow_peers:
            out += [Spec("cs", "moderndid", fam, "moderndid", "peers", areas, periods, package="moderndid",
                         note="att_gt + aggte"),
                    Spec("cs", "differences", fam, "differences", "peers", areas, periods,
                         package="differences", note="ATTgt + aggregate")]
    return out


def _twfe(areas: int, periods: int, peers: bool) -> list[Spec]:
    out = [Spec("twfe", "ours", "ours.py", "twfe", "dev", areas, periods, note="evaluate.did(twfe, se=cluster)"),
           Spec("twfe", "ours-fit-only", "ours.py", "twfe_only", "dev", areas, periods,
                note="did_twfe.twfe: the fit without did()'s Goodman-Bacon decomposition")]
    if peers:
        out.append(Spec("twfe", "pyfixest", "peers/peer_fixest.py", "twfe", "peers", areas, periods,
                        package="pyfixest", note="feols(y ~ D | area + t, CRV1)"))
    return out


def _event(areas: int, periods: int, peers: bool, did2s: bool) -> list[Spec]:
    """TWFE event study and Sun-Abraham: ours and pyfixest (``did2s``: also pyfixest's did2s)."""
    w = {"window": "-12,24"}
    es = [Spec("event_study", "ours", "ours.py", "event_study", "dev", areas, periods, w,
               note="evaluate.did(event_study, window [-12, 24], se=cluster)")]
    sa = [Spec("sun_abraham", "ours", "ours.py", "sun_abraham", "dev", areas, periods, w,
               note="evaluate.did(sun_abraham, window [-12, 24], se=cluster)")]
    if peers:
        es.append(Spec("event_study", "pyfixest", "peers/peer_fixest.py", "event_study", "peers", areas, periods, w,
                       package="pyfixest", note="feols(y ~ i(rel, ref=-1) | area + t, CRV1)"))
        if did2s:
            es.append(Spec("event_study", "pyfixest-did2s", "peers/peer_fixest.py", "did2s", "peers", areas,
                           periods, w, package="pyfixest", note="did2s event study (different estimator)"))
        sa.append(Spec("sun_abraham", "pyfixest", "peers/peer_fixest.py", "sun_abraham", "peers", areas, periods, w,
                       package="pyfixest", note="feols(y ~ i(cohort x rel) | area + t, CRV1) + cohort-share weights"))
    return es + sa


def _wild(areas: int, periods: int, peers: bool, draws: int, peer_timeout: float) -> list[Spec]:
    p = {"draws": str(draws)}
    out = [Spec("wild", "ours", "ours.py", "wild", "dev", areas, periods, p,
                note=f"evaluate.did(twfe, se=wild, {draws} draws)")]
    if peers:
        out += [Spec("wild", "pyfixest", "peers/peer_fixest.py", "wild_pyfixest", "peers", areas, periods, p,
                     timeout=peer_timeout, package="pyfixest", note=f"feols + .wildboottest({draws})"),
                Spec("wild", "wildboottest", "peers/peer_fixest.py", "wild_wildboottest", "peers", areas, periods, p,
                     timeout=peer_timeout, package="wildboottest",
                     note=f"statsmodels OLS with dummies + wildboottest(B={draws})")]
    return out


def _its(areas: int, periods: int, peers: bool) -> list[Spec]:
    out = [Spec("its", "ours", "ours.py", "its", "dev", areas, periods,
                note="its_by_area: OLS+Newey-West and Poisson per area, with the simulated estimands (2000 draws)"),
           Spec("its", "ours-no-simulation", "ours.py", "its", "dev", areas, periods, {"n_sim": "0"},
                note="its_by_area(n_sim=0): the fits alone, like the loop")]
    if peers:
        out.append(Spec("its", "statsmodels", "peers/peer_statsmodels_its.py", "its", "peers", areas, periods,
                        package="statsmodels", note="loop: OLS+HAC and Poisson GLM per area"))
    # the target's model alone: Poisson with a log-population offset and Fourier seasonality
    out.append(Spec("its_poisson", "ours", "ours.py", "its", "dev", areas, periods,
                    {"n_sim": "0", "models": "poisson"}, note="its_by_area(model='poisson', n_sim=0)"))
    if peers:
        out.append(Spec("its_poisson", "statsmodels", "peers/peer_statsmodels_its.py", "its", "peers", areas,
                        periods, {"models": "poisson"}, package="statsmodels",
                        note="loop: Poisson GLM with offset per area"))
    return out


def suite(quick: bool = False, peers: bool = True) -> list[Spec]:
    """Every spec of the suite.

    Parameters
    ----------
    quick
        Small sizes and the fast peers only (a smoke test of the whole machinery).
    peers
        Include the peers at all.

    Returns
    -------
    list of Spec
        In running order.
    """
    if quick:
        n, t = 200, 60
        specs = [*_cs(n, t, peers, slow_peers=False), *_twfe(n, t, peers), *_event(n, t, False, did2s=False),
                 *_wild(100, t, False, 99, 120), *_its(60, t, peers),
                 Spec("e2e", "ours", "ours.py", "e2e", "dev", 60, 48, {"draws": "99", "outcomes": "1"},
                      timeout=300, note="evaluate run (small project, 1 outcome, 99 draws)")]
        specs += [Spec(k, "ours", "ours.py", k, "dev", a, t, note=f"{k}: memory at 1x / 10x rows")
                  for a in (60, 600) for k in ("cs", "twfe")]
        return specs
    specs: list[Spec] = []
    for n in (3000, 10000):
        specs += _cs(n, 240, peers, slow_peers=True)
    for n in (3000, 10000):
        specs += _twfe(n, 240, peers)
    for n in (3000, 10000):
        specs += _event(n, 240, peers, did2s=True)
    specs += _wild(1000, 120, peers, 999, 300)
    specs += _wild(3000, 240, False, 999, 300)
    specs += _its(3000, 240, peers)
    specs.append(Spec("e2e", "ours", "ours.py", "e2e", "dev", 3000, 240, {"draws": "999", "outcomes": "6"},
                      timeout=1800, note="evaluate run national.yaml (CS 999 draws, event study, ITS, report)"))
    specs += [Spec(k, "ours", "ours.py", k, "dev", 1000, 240, note=f"{k}: memory at 1x rows (3x and 10x: the "
                   "3,000 and 10,000 area cases)") for k in ("cs", "twfe")]
    return specs

"""``evaluate verify``: re-run every published replication and compare with the published numbers.

Each replication (one module here) reads a small dataset shipped in ``evaluate/reference/``
(with its citation and licence), fits it with the package's own estimators, and yields
:class:`Check` rows: the published value, the value obtained, the tolerance and whether it
passes. The command exits 0 only if every check passes. A new replication is a module that
decorates a generator of checks with :func:`replication` and is imported below.
"""

from evaluate.verify import card_krueger, castle, mpdta, prop99, sicily  # noqa: F401 - registers the replications
from evaluate.verify.core import (
    REPLICATIONS,
    Check,
    format_checks,
    reference_dir,
    replication,
    run_verification,
)

__all__ = ["Check", "REPLICATIONS", "replication", "reference_dir", "run_verification", "format_checks"]

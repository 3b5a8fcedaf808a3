"""How hard the hostile-input tests push: a bounded run in CI, thousands of cases on demand.

``GKCHAT_FUZZ=long`` turns on the thorough mode (run it alone, it takes minutes); anything else
is the CI mode, sized to add about a minute of wall time on two cores. Hypothesis runs
derandomized and without an example database, so the CI mode tries the same cases every time.
"""

import os

from hypothesis import HealthCheck, settings

FUZZ_ENV = "GKCHAT_FUZZ"
LONG = os.environ.get(FUZZ_ENV, "").strip().lower() == "long"


def budget(ci: int, long: int) -> int:
    """``ci`` cases normally, ``long`` in the thorough mode."""
    return long if LONG else ci


def hypothesis_settings(ci: int, long: int) -> settings:
    """Deterministic Hypothesis settings for a property that talks to a real server."""
    return settings(
        max_examples=budget(ci, long),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

"""perf/faults' cases: each runs bounded load against the real binaries, injects one fault,
lets the system recover and counts requests sent, failed, and data lost (orders, events).

Built on the test fixtures (tests/integration/harness/: processes started and stopped by
pid through scripts/launch, free ports; tests/services/fixture.py: throwaway PostgreSQL and Redis, the services), which this
package puts on sys.path. Python standard library only."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for folder in ("tests/integration", "tests/services"):
    if str(REPO / folder) not in sys.path:
        sys.path.insert(0, str(REPO / folder))

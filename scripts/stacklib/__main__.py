"""python3 scripts/stacklib COMMAND [ARG]: what scripts/stack runs."""
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCRIPTS))

from stacklib.commands import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], SCRIPTS.parent))

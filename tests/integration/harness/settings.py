"""Where things are and how long the harness waits: paths, the binaries it runs, timeouts."""
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]   # tests/integration: backend.py, ws_server.js, ...
REPO = HERE.parents[1]
if str(REPO / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO / "scripts"))  # scripts/launch: one way to start and stop processes

BALANCER_BIN = os.environ.get("BALANCER_BIN") or str(REPO / "build" / "bin" / "balancer")
PYTHON = sys.executable or "python3"
NODE = shutil.which("node") or "node"

START_TIMEOUT = 10.0     # seconds for a process to accept on its port (ASan builds start slower)
STOP_TIMEOUT = 8.0       # seconds after SIGTERM before SIGKILL
TEST_DEADLINE = 100      # seconds for a whole test file (ctest kills at 120)

"""Files other programs read while they change (Prometheus's file-SD targets, the autoscaler's
state, the stack's launch files): written to a temporary file in the same folder and renamed,
so a reader sees the old file or the new one, never half of one. JSON goes through the json
library, never through string building."""
import json
import os
from pathlib import Path


def write_atomic(path, text):
    """Writes `text` to `path` by a rename. The temporary name starts with a dot, so it
    matches no file-SD pattern (*.json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_json(path, data, indent=None):
    """`data` as JSON plus a newline, written atomically."""
    write_atomic(path, json.dumps(data, indent=indent) + "\n")


def read_json(path, default=None):
    """The JSON in `path`, or `default` when the file is missing or no JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default

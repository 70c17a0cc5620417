"""Config files from perf/configs/*.tmpl: words between double at-signs are filled in."""
import os
import re

from . import CONF_DIR


def render(template, dest, values):
    """Writes `template` (a file name in perf/configs) to `dest` with every @@KEY@@ replaced by
    values[KEY]; a placeholder left unfilled is an error (values may hold more than it needs)."""
    with open(os.path.join(CONF_DIR, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace(f"@@{k}@@", str(v))
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise RuntimeError(f"{template}: unfilled placeholders {sorted(set(left))}")
    with open(dest, "w") as f:
        f.write(text)
    return dest

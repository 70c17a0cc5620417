"""A case's outcome, the table printed as the suite goes, and the two files it writes:
faults-latest.json (the contract perf/report reads) and faults-<timestamp>.md."""
import datetime
import json
import subprocess
from dataclasses import dataclass, field

from . import REPO


@dataclass
class CaseResult:
    """One row. `sent` counts requests (every attempt), `failed` those that got no 2xx where
    one was due (or no answer), `lost_orders` orders acknowledged 201 but missing or doubled,
    `lost_events` status events never delivered to their owner's WebSocket or delivered twice.
    `checks` are the target's parts: (what, held)."""
    name: str
    target: str
    sent: int = 0
    failed: int = 0
    lost_orders: int = 0
    lost_events: int = 0
    orders: int = 0            # orders checked in PostgreSQL (0: none in this case)
    events: int = 0            # events checked at the WebSockets
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    checks: list = field(default_factory=list)

    def check(self, held, what):
        """Records one part of the target; returns whether it held."""
        self.checks.append((what, bool(held)))
        return bool(held)

    def note(self, text):
        self.notes.append(text)

    @property
    def passed(self):
        return bool(self.checks) and all(held for _, held in self.checks)

    def row(self):
        """The contract's fields, plus orders/events checked and the case's seconds."""
        failed_checks = [what for what, held in self.checks if not held]
        notes = "; ".join(self.notes + [f"NOT MET: {w}" for w in failed_checks])
        return {"name": self.name, "sent": self.sent, "failed": self.failed,
                "lost_orders": self.lost_orders, "lost_events": self.lost_events,
                "passed": self.passed, "target": self.target, "notes": notes,
                "orders": self.orders, "events": self.events,
                "seconds": round(self.seconds, 1)}


def table_header():
    return (f"{'case':28} {'sent':>7} {'failed':>7} {'lost ord':>8} {'lost ev':>7} "
            f"{'result':>6} {'s':>6}")


def table_line(r):
    return (f"{r.name:28} {r.sent:7d} {r.failed:7d} {r.lost_orders:8d} {r.lost_events:7d} "
            f"{'pass' if r.passed else 'FAIL':>6} {r.seconds:6.1f}")


def commit():
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    return out.stdout.strip() or "unknown"


def _md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def write(results, mode, json_path, argv, started):
    """Writes JSON_PATH and faults-<timestamp>.md next to it; returns the .md's path."""
    generated = datetime.datetime.now(datetime.timezone.utc)
    doc = {"generated": generated.isoformat(timespec="seconds"), "commit": commit(),
           "mode": mode, "cases": [r.row() for r in results]}
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    md_path = json_path.parent / f"faults-{stamp}.md"
    lines = [f"# perf/faults, {mode} mode, {stamp}", "",
             f"`{' '.join(argv)}` at commit `{doc['commit'][:12]}`; "
             f"{sum(r.seconds for r in results):.0f} s of cases, "
             f"{(generated.timestamp() - started):.0f} s in all. Failed: requests that got no "
             "2xx where one was due, or no answer. Lost orders: acknowledged 201 but missing in "
             "PostgreSQL or doubled for one Idempotency-Key. Lost events: committed status "
             "changes never delivered to the owner's WebSocket, or delivered twice.", "",
             "| case | sent | failed | lost orders | lost events | result | target | notes |",
             "|---|---:|---:|---:|---:|---|---|---|"]
    for r in results:
        row = r.row()
        lines.append(f"| {r.name} | {r.sent:,} | {r.failed:,} | {r.lost_orders} | "
                     f"{r.lost_events} | {'pass' if r.passed else '**FAIL**'} | "
                     f"{_md_escape(r.target)} | {_md_escape(row['notes'])} |")
    failed = [r.name for r in results if not r.passed]
    lines += ["", f"Targets failed: {', '.join(failed)}." if failed else "Every target held.", ""]
    md_path.write_text("\n".join(lines))
    return md_path


#!/usr/bin/env python3
"""`balancer -t -c FILE`: 0 for a good config; 1 and `FILE:LINE:COLUMN: message` per error."""
import re

from harness import run, run_cli

GOOD = """\
workers: 2
shutdown_timeout: 5s
timeouts: { client_header: 10s, client_idle: 60s, tunnel_idle: 1h }
limits: { max_header_bytes: 32768, max_headers: 100, max_body_size: 64MiB }
listeners:
  - { name: public, address: 127.0.0.1:28080 }
upstreams:
  app:
    balance: round_robin
    backends:
      - { address: 127.0.0.1:28081, weight: 1 }
      - { address: 127.0.0.1:28082, weight: 2 }
    health_check: { path: /health, interval: 300ms, timeout: 200ms, healthy_threshold: 1, unhealthy_threshold: 1 }
    connect_timeout: 500ms
    request_timeout: 2s
    retries: 1
    pool: { max_idle: 64, idle_timeout: 30s }
  other:
    balance: least_conn
    backends:
      - { address: 127.0.0.1:28083, weight: 1 }
    connect_timeout: 1s
    request_timeout: 1m
    retries: 0
routes:
  - match: { path_prefix: /api, methods: [GET, POST], host: example.com }
    upstream: app
    strip_prefix: /api
  - match: { path: /exact }
    upstream: other
"""

# Each error on a known line (1-based). The three together, and each one alone.
UNKNOWN_KEY = ("bogus_key: 1\n", "unknown key")
BAD_DURATION = ("    connect_timeout: 5parsecs\n", "bad duration")
UNKNOWN_UPSTREAM = ("    upstream: nowhere\n", "unknown upstream")


def bad_config(unknown_key=False, bad_duration=False, unknown_upstream=False):
    """Returns (text, {line number: what}) for a config with the chosen errors."""
    lines = GOOD.splitlines(keepends=True)
    errors = {}
    if bad_duration:
        i = lines.index("    connect_timeout: 500ms\n")
        lines[i] = BAD_DURATION[0]
    if unknown_upstream:
        i = lines.index("    upstream: other\n")
        lines[i] = UNKNOWN_UPSTREAM[0]
    if unknown_key:
        i = lines.index("listeners:\n")
        lines.insert(i, UNKNOWN_KEY[0])
    for number, line in enumerate(lines, 1):
        for text, what in (UNKNOWN_KEY, BAD_DURATION, UNKNOWN_UPSTREAM):
            if line == text:
                errors[number] = what
    return "".join(lines), errors


def check_errors(h, path, expected, what):
    res = run_cli("-t", "-c", path)
    h.expect_eq(res.returncode, 1, f"{what}: exit code (stderr: {res.stderr.strip()[:800]!r})")
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): (.+)$", re.M)
    found = {int(m[1]): (int(m[2]), m[3]) for m in pattern.finditer(res.stderr)}
    for line, kind in expected.items():
        if h.expect(line in found, f"{what}: no `{path.name}:{line}:COLUMN: message` for the "
                                   f"{kind} on line {line}; stderr was:\n{res.stderr}"):
            column, message = found[line]
            h.expect(column >= 1, f"{what}: column {column} for line {line} is not 1-based")
            print(f"   line {line} ({kind}): column {column}: {message}")
    extra = set(found) - set(expected)
    h.expect(not extra, f"{what}: errors reported on unexpected lines {sorted(extra)}: "
                        f"{res.stderr}")


def test(h):
    with h.step("--version exits 0 and prints something"):
        res = run_cli("--version")
        h.expect_eq(res.returncode, 0, "exit code")
        h.expect((res.stdout + res.stderr).strip(), "no version output")

    with h.step("a good config passes -t"):
        path = h.write("good.yaml", GOOD)
        res = run_cli("-t", "-c", path)
        h.expect_eq(res.returncode, 0, f"exit code (stderr: {res.stderr.strip()[:800]!r})")

    for flags in ({"unknown_key": True}, {"bad_duration": True}, {"unknown_upstream": True}):
        kind = next(iter(flags)).replace("_", " ")
        with h.step(f"one error: {kind}"):
            text, expected = bad_config(**flags)
            check_errors(h, h.write(f"{next(iter(flags))}.yaml", text), expected, kind)

    with h.step("three errors in one file: each reported with its line"):
        text, expected = bad_config(True, True, True)
        h.expect_eq(len(expected), 3, "test setup: three error lines")
        check_errors(h, h.write("bad.yaml", text), expected, "three errors")

    with h.step("an admin API other machines can reach needs a token (or a token_file)"):
        open_admin = GOOD + "admin:\n  address: 0.0.0.0:29901\n"
        line = open_admin.splitlines().index("  address: 0.0.0.0:29901") + 1
        check_errors(h, h.write("open_admin.yaml", open_admin), {line: "admin without token"},
                     "non-loopback admin without a token")
        token_file = h.write("admin-token", "  t0k3n-from-a-secret\n")
        res = run_cli("-t", "-c", h.write("admin_token_file.yaml", open_admin +
                                          f"  token_file: {token_file}\n"))
        h.expect_eq(res.returncode, 0, f"with token_file: {res.stderr.strip()[:400]!r}")
        res = run_cli("-t", "-c", h.write("admin_loopback.yaml",
                                          GOOD + "admin: { address: '[::1]:29901' }\n"))
        h.expect_eq(res.returncode, 0, f"loopback without a token: {res.stderr.strip()[:400]!r}")
        both = open_admin + "  token: x\n  token_file: " + str(token_file) + "\n"
        line = both.splitlines().index("  token_file: " + str(token_file)) + 1
        check_errors(h, h.write("admin_both.yaml", both), {line: "token and token_file"},
                     "token and token_file")

    with h.step("a YAML syntax error is reported with its line"):
        path = h.write("syntax.yaml", "workers: 1\nlisteners:\n  - { name: public, address: \n"
                                      "upstreams: [\n")
        res = run_cli("-t", "-c", path)
        h.expect_eq(res.returncode, 1, "exit code")
        h.expect(re.search(rf"^{re.escape(str(path))}:\d+:\d+: ", res.stderr, re.M),
                 f"no FILE:LINE:COLUMN error: {res.stderr!r}")

    with h.step("a file that cannot be read: FILE:0:0 and the reason, exit 1 (a folder aborted)"):
        for path, reason in ((h.dir / "missing.yaml", "No such file or directory"),
                             (h.dir, "Is a directory")):
            res = run_cli("-t", "-c", path)
            h.expect_eq((res.returncode, res.stderr.strip()),
                        (1, f"{path}:0:0: cannot read the file: {reason}"), f"-t -c {path}")

    with h.step("-c without a file says so, exit 2"):
        res = run_cli("-t", "-c")
        h.expect_eq(res.returncode, 2, "exit code")
        h.expect("-c needs the configuration file" in res.stderr, f"stderr: {res.stderr!r}")


if __name__ == "__main__":
    run(test)

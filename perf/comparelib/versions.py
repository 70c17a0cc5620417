"""Which programs ran: their versions for the report's header, and warnings about a balancer
build whose numbers would not be representative."""
import datetime
import os
import re
import subprocess

from . import REPO_DIR


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (out.stdout + out.stderr).strip().splitlines()[0].replace(" - https://haproxy.org/", "")
    except Exception:
        return f"{argv[0]}: ?"


def balancer_version(args):
    if "balancer" not in args.targets:
        return "not run"
    if not os.access(args.balancer_bin, os.X_OK):
        return "not built"
    try:
        out = subprocess.run([args.balancer_bin, "--version"], capture_output=True, text=True, timeout=5)
        v = (out.stdout + out.stderr).strip().splitlines()
        ver = v[0] if v else f"--version printed nothing (exit {out.returncode})"
    except Exception as e:
        ver = f"--version failed: {e}"
    ver += f" ({os.path.relpath(args.balancer_bin, REPO_DIR)}, built " + \
        datetime.datetime.fromtimestamp(os.path.getmtime(args.balancer_bin)).strftime("%H:%M:%S") + ")"
    try:
        head = subprocess.run(["git", "-C", REPO_DIR, "log", "-1", "--format=%h %cd", "--date=format:%H:%M"],
                              capture_output=True, text=True, timeout=5).stdout.strip()
        if head:
            ver += f", repo at commit {head}"
    except Exception:
        pass
    for w in balancer_build_warnings(args.balancer_bin):
        ver += f" **{w}**"
    return ver


def balancer_build_warnings(path):
    """A sanitizer or unoptimised build would make the numbers meaningless."""
    warns = []
    try:
        with open(path, "rb") as f:
            data = f.read()
        for sym, name in ((b"__asan_init", "AddressSanitizer"), (b"__tsan_init", "ThreadSanitizer"),
                          (b"__ubsan_handle", "UBSan")):
            if sym in data:
                warns.append(f"built with {name}")
    except OSError:
        pass
    cache = os.path.join(os.path.dirname(os.path.dirname(path)), "CMakeCache.txt")
    try:
        with open(cache) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", f.read(), re.M)
        if m and m.group(1) not in ("Release", "RelWithDebInfo"):
            warns.append(f"CMAKE_BUILD_TYPE={m.group(1) or '(none)'}")
    except OSError:
        pass
    return warns

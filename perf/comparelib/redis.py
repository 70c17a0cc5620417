"""A few commands to Redis over RESP (standard library only), for the ratelimit scenario."""
import re
import socket


def redis_command(port, *args, timeout=2.0):
    """One command to Redis over RESP; returns the reply (str, int, list or
    None), raises OSError on a connection problem and RuntimeError on an error reply."""
    req = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        f = s.makefile("rb")

        def read():
            line = f.readline()
            if not line:
                raise OSError("Redis closed the connection")
            kind, rest = line[:1], line[1:-2].decode()
            if kind == b"+":
                return rest
            if kind == b"-":
                raise RuntimeError(rest)
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise OSError(f"unexpected Redis reply {line!r}")
        return read()


def redis_script_calls(port):
    """EVAL + EVALSHA calls Redis has answered so far (INFO commandstats): one
    per global rate-limit check.  None when Redis cannot be asked."""
    try:
        text = redis_command(port, "INFO", "commandstats")
    except (OSError, RuntimeError):
        return None
    return sum(int(m.group(1)) for m in re.finditer(r"^cmdstat_(?:eval|evalsha):calls=(\d+)", text, re.M))

"""A reader of the Prometheus text exposition format (version 0.0.4): the samples of a /metrics
page, each as (name, labels, value). Comments (# HELP, # TYPE) are skipped; timestamps ignored.

    parse('balancer_upstream_in_flight{upstream="products",backend="127.0.0.1:7101"} 3\\n')
    # [Sample('balancer_upstream_in_flight', {'upstream': 'products', ...}, 3.0)]
"""
import re
from dataclasses import dataclass

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class FormatError(ValueError):
    """A line that is not a sample; the message names the line."""


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict
    value: float


def parse(text):
    """The samples of `text`, in order; raises FormatError on a malformed line."""
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(_sample(line))
        except (FormatError, ValueError) as e:
            raise FormatError(f"line {number}: {e}: {line[:120]!r}") from None
    return samples


def _sample(line):
    m = _NAME.match(line)
    if not m:
        raise FormatError("no metric name")
    name = m.group(0)
    pos = m.end()
    labels = {}
    if pos < len(line) and line[pos] == "{":
        labels, pos = _labels(line, pos + 1)
    rest = line[pos:].split()
    if not rest or len(rest) > 2:
        raise FormatError("expected a value (and an optional timestamp)")
    return Sample(name, labels, _value(rest[0]))


def _labels(line, pos):
    """The label set starting after '{' at `pos`: (labels, position after '}')."""
    labels = {}
    while True:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        m = _LABEL_NAME.match(line, pos)
        if not m:
            raise FormatError("bad label name")
        pos = m.end()
        if line[pos:pos + 2] != '="':
            raise FormatError(f"expected =\" after label {m.group(0)}")
        pos += 2
        value = []
        while True:
            if pos >= len(line):
                raise FormatError("unterminated label value")
            c = line[pos]
            if c == "\\":
                escaped = line[pos + 1:pos + 2]
                if escaped not in _ESCAPES:
                    raise FormatError(f"bad escape \\{escaped} in a label value")
                value.append(_ESCAPES[escaped])
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                value.append(c)
                pos += 1
        labels[m.group(0)] = "".join(value)
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos < len(line) and line[pos] != "}":
            raise FormatError("expected , or } between labels")


def _value(text):
    special = {"+Inf": float("inf"), "Inf": float("inf"), "-Inf": float("-inf"),
               "NaN": float("nan")}
    return special[text] if text in special else float(text)

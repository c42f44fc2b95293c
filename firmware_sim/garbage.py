"""Malformed payloads a broken or hostile device may send (fault `garbage`).

Each kind targets one defence a receiver needs: a JSON parser that fails (`bad_json`,
`not_utf8`), fields of the wrong type (`wrong_types`), a payload over any sane size limit
(`oversize`, 100 KiB), text a UTF-8 encoder refuses (`surrogate`: JSON's `"\\ud800"` escape, which
Python's `json.loads` accepts), a NUL in a string (`nul`), nesting that exhausts a recursive
parser (`deep`: 10,000 levels, `RecursionError` rather than `ValueError` in Python), and a valid
JSON value that is not an object (`not_object`).
"""

from __future__ import annotations

import random

GARBAGE_KINDS = ("bad_json", "not_utf8", "wrong_types", "oversize", "surrogate", "nul", "deep", "not_object")
OVERSIZE_BYTES = 100 * 1024
DEEP_LEVELS = 10_000


def garbage_payload(kind: str, rng: random.Random) -> bytes:
    """One malformed payload of `kind` (or of a random kind for "random")."""
    if kind == "random":
        kind = rng.choice(GARBAGE_KINDS)
    if kind == "bad_json":
        return b'{"seq":12,"ts":"2026-11-23T09:15:02.120+08:00","type":"rated","score":'
    if kind == "not_utf8":
        return b'{"seq":12,"type":"\xff\xfe\xfd"}'
    if kind == "wrong_types":
        return b'{"seq":"12","ts":1732324502,"type":["rated"],"slot":"3","score":"5","staff_id":231,"reasons":"slow"}'
    if kind == "oversize":
        return b'{"seq":12,"ts":"2026-11-23T09:15:02.120+08:00","note":"' + b"x" * OVERSIZE_BYTES + b'"}'
    if kind == "surrogate":
        return b'{"seq":12,"ts":"2026-11-23T09:15:02.120+08:00","type":"rated","staff_id":"S\\ud800"}'
    if kind == "nul":
        return b'{"seq":12,"ts":"2026-11-23T09:15:02.120+08:00","type":"rated","staff_id":"S\\u0000231"}'
    if kind == "deep":
        return b"[" * DEEP_LEVELS + b"]" * DEEP_LEVELS
    if kind == "not_object":
        return b"[1,2,3]"
    raise ValueError(f"garbage kind {kind!r} is not one of {', '.join(GARBAGE_KINDS)} or random")

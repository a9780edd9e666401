"""The self-checking record format shared by the crash driver and the
Python worker (tests/crash/records.js is the same for Node).

A record's checksum covers its key, its headers (except `ck` and the
`logpond.*` headers a dead letter gains) and its body:

    digest = sha256("k=" + ("-" | "+" key) + "\nh=" + "name=value;"... +
                    "\nb=" + ("-" | "+" body))[:32 hex]

A record with a body has value `body + "#" + digest`; a tombstone (no value)
carries the digest in header `ck`. So any record read back can be checked
on its own (a corrupt one is detected), and the driver compares the digest
with the one the worker acknowledged for that offset.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, List, Optional, Sequence, Tuple

Header = Tuple[str, str]


class Corrupt(Exception):
    """A record whose content does not match its own checksum."""


def digest(key: Optional[str], headers: Iterable[Header], body: Optional[str]) -> str:
    s = (
        "k="
        + ("-" if key is None else "+" + key)
        + "\nh="
        + "".join(f"{n}={v};" for n, v in headers)
        + "\nb="
        + ("-" if body is None else "+" + body)
    )
    return hashlib.sha256(s.encode()).hexdigest()[:32]


def filler(seq: int, n: int) -> str:
    s = format(seq, "x") + "-"
    return (s * (n // len(s) + 1))[:n]


def make(
    tag: str, seq: int, size: int, key: Optional[str] = None, headers: Sequence[Header] = (), tomb: bool = False
) -> Tuple[Optional[str], Optional[str], List[Header], str]:
    """(key, value, headers, digest) of a new record."""
    body = None if tomb else f"{tag}.{seq}." + filler(seq, size)
    ck = digest(key, headers, body)
    hs = list(headers)
    if tomb:
        hs.append(("ck", ck))
        return key, None, hs, ck
    return key, f"{body}#{ck}", hs, ck


def check(key: Optional[bytes], value: Optional[bytes], headers: Sequence[Tuple[str, bytes]]) -> str:
    """The record's digest; raises Corrupt when it does not match its content."""
    try:
        k = None if key is None else key.decode()
        hs = [(n, v.decode()) for n, v in headers]
    except UnicodeDecodeError as e:
        raise Corrupt(f"not utf-8: {e}") from None
    own = [(n, v) for n, v in hs if n != "ck" and not n.startswith("logpond.")]
    if value is None:
        cks = [v for n, v in hs if n == "ck"]
        if len(cks) != 1:
            raise Corrupt("tombstone without its ck header")
        ck = cks[0]
        if digest(k, own, None) != ck:
            raise Corrupt("tombstone digest mismatch")
        return ck
    try:
        v = value.decode()
    except UnicodeDecodeError as e:
        raise Corrupt(f"value not utf-8: {e}") from None
    body, sep, ck = v.rpartition("#")
    if not sep or len(ck) != 32:
        raise Corrupt(f"value without a digest: {v[:60]!r}")
    if digest(k, own, body) != ck:
        raise Corrupt(f"digest mismatch: {v[:60]!r}")
    return ck


def check_record(r: object) -> str:
    return check(r.key, r.value, r.headers)  # type: ignore[attr-defined]

"""The exception tree: classes, codes, bases."""

from __future__ import annotations

import pickle

import pytest

import logpond

CODES = {
    "TopicExists": "TOPIC_EXISTS",
    "TopicNotFound": "TOPIC_NOT_FOUND",
    "InvalidName": "INVALID_NAME",
    "InvalidArgument": "INVALID_ARGUMENT",
    "RecordTooLarge": "RECORD_TOO_LARGE",
    "Backpressure": "BACKPRESSURE",
    "OffsetOutOfRange": "OFFSET_OUT_OF_RANGE",
    "Corruption": "CORRUPTION",
    "PondLocked": "POND_LOCKED",
    "Closed": "CLOSED",
    "CommitFailed": "COMMIT_FAILED",
    "LeaseExpired": "LEASE_EXPIRED",
    "IoError": "IO",
}


def test_tree() -> None:
    assert issubclass(logpond.LogpondError, Exception)
    assert logpond.LogpondError.code is None
    assert logpond.LogpondError.__module__ == "logpond"
    for name, code in CODES.items():
        cls = getattr(logpond, name)
        assert issubclass(cls, logpond.LogpondError), name
        assert cls.code == code
        assert cls.__module__ == "logpond" and cls.__qualname__ == name
        assert cls.__doc__
    assert issubclass(logpond.InvalidArgument, ValueError)
    assert issubclass(logpond.InvalidName, ValueError)
    assert issubclass(logpond.IoError, OSError)
    assert not issubclass(logpond.TopicNotFound, ValueError)


def test_every_core_code_has_its_class() -> None:
    """The core's `ErrorCode::ALL` (exported as `_ERROR_CODES`): each code has
    a class of its own, so no error falls back to the base class."""
    from logpond import _native

    codes = _native._ERROR_CODES
    assert "COMMIT_FAILED" in codes and "LEASE_EXPIRED" in codes
    by_code = {cls.code: cls for cls in (getattr(logpond, n) for n in CODES)}
    assert set(codes) == set(by_code)
    for code in codes:
        assert by_code[code].__name__ in logpond.__all__


def test_raised_errors_are_instances_with_messages(pond: logpond.Pond) -> None:
    with pytest.raises(logpond.LogpondError) as e:
        pond.describe("missing")
    assert type(e.value) is logpond.TopicNotFound
    assert str(e.value) == "topic not found: missing"
    assert e.value.code == "TOPIC_NOT_FOUND"


def test_errors_pickle() -> None:
    err = logpond.TopicNotFound("topic not found: x")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is logpond.TopicNotFound and str(again) == str(err)


def test_catch_by_base(pond: logpond.Pond) -> None:
    pond.create_topic("t", max_record_bytes=1)
    failures = 0
    for call in (lambda: pond.create_topic("t"), lambda: pond.send("t", b"xx"), lambda: pond.read("t", 0, 9)):
        try:
            call()
        except logpond.LogpondError:
            failures += 1
    assert failures == 3


def test_a_panic_is_a_logpond_error() -> None:
    from logpond import _native

    with pytest.raises(logpond.LogpondError) as e:
        _native._panic_for_tests()  # type: ignore[attr-defined]
    assert type(e.value) is logpond.LogpondError
    assert "internal error" in str(e.value) and "deliberate panic" in str(e.value)
    assert e.value.code is None

"""What a sink's failure means for the batch, decided at the library boundary (Telegraf
internal/errors.go, outputs/influxdb_v2/http.go): keep and retry, drop, or split."""

from __future__ import annotations


class SinkError(Exception):
    """Base class: every error a sink raises is one of the subclasses."""


class SinkRetry(SinkError):
    """Transient: connection refused, timeout, 5xx, 429. Keep the batch; retry after a backoff
    that is at least retry_after seconds when the server said so (Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkAuth(SinkError):
    """401/403: the credentials are wrong. Keep the batch (nothing is wrong with the data) and
    retry slowly; an operator has to fix the configuration."""


class SinkReject(SinkError):
    """400/422: the server refused (some of) the lines. Retrying the same lines cannot help.

    partial=True: the server stored the good lines and refused `rejected` of them (InfluxDB 1.x
    "partial write"); the batch is done. partial=False: nothing was stored; the drain bisects the
    batch to find the bad lines, which is safe because re-sending a point only overwrites it.
    """

    def __init__(self, message: str, *, partial: bool = False, rejected: int | None = None) -> None:
        super().__init__(message)
        self.partial = partial
        self.rejected = rejected


class SinkTooLarge(SinkError):
    """413: the request body is over the server's limit; send the batch in halves."""


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by InfluxDB and is ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# vmauth (Debian's 1.79) answers an unknown login, or a path the login may not use, with 400, not
# 401/403: the credentials are wrong, not the lines, so the points are kept and retried.
VMAUTH_REFUSALS = ("cannot find the provided auth token", "missing route for")


def classify_status(status: int, message: str, retry_after: str | None) -> SinkError:
    """The error for a non-2xx answer (shared by the v1 and v2 sinks)."""
    if status == 400 and any(m in message for m in VMAUTH_REFUSALS):
        return SinkAuth(f"HTTP {status}: {message}")
    if status in (400, 422):
        return _reject(message)
    if status in (401, 403):
        return SinkAuth(f"HTTP {status}: {message}")
    if status == 413:
        return SinkTooLarge(f"HTTP 413: {message}")
    # 429, 5xx, and anything unexpected (404 database not found, 500 retention policy not found):
    # keep the data. Dropping is only for answers that say the data itself is bad.
    return SinkRetry(f"HTTP {status}: {message}", retry_after=parse_retry_after(retry_after))


def _reject(message: str) -> SinkReject:
    # InfluxDB 1.x: 'partial write: unable to parse ...\nunable to parse ... dropped=N': the
    # parseable points were written; each unparseable line is listed and N more were refused
    # for a field type conflict.
    if "partial write" not in message:
        return SinkReject(message)
    rejected = message.count("unable to parse")
    tail = message.rsplit("dropped=", 1)
    if len(tail) == 2:
        digits = "".join(ch for ch in tail[1] if ch.isdigit())
        if digits:
            rejected += int(digits)
    return SinkReject(message, partial=True, rejected=rejected)

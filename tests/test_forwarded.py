"""A worker's forward table (gateway/store/forwarded.py): written with the lines, bounded in bytes,
what does not fit counted and logged, what the gateway acknowledged deleted, the rest kept across
a reopen (what a killed worker replays)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.domain.canonical import Priority
from gateway.store.forwarded import ForwardLog
from gateway.store.outbox import Outbox

ROW = b"x" * 1000


def _append(outbox: Outbox, fwd: ForwardLog, events: int = 3) -> int | None:
    outbox.append([(Priority.EVENT, "m f=1i 1")], also=fwd.keep(ROW, events))
    return fwd.committed()


def test_the_table_stays_within_its_bound_and_counts_and_logs_what_it_could_not_keep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", background_checkpoints=False)
    fwd = ForwardLog(outbox.connection, max_bytes=5 * len(ROW))
    seqs = [_append(outbox, fwd) for _ in range(8)]
    assert seqs[:5] == [1, 2, 3, 4, 5] and seqs[5:] == [None, None, None]
    assert fwd.bytes == 5 * len(ROW) <= fwd.max_bytes and fwd.full
    assert fwd.dropped_events == 9
    assert outbox.stats().depth_records == 8  # the lines were all stored all the same
    assert sum("forward table is full" in r.message for r in caplog.records if r.levelno == logging.ERROR) == 1

    fwd.acked = 3  # the gateway's records hold rows 1-3: deleted with the next commit
    assert _append(outbox, fwd) == 6 and not fwd.full
    assert fwd.rows == 3 and fwd.bytes == 3 * len(ROW)
    outbox.close()

    # Reopened (a worker started again): the rows not acknowledged, the count and the stream remain.
    again = Outbox(tmp_path / "o.sqlite", background_checkpoints=False)
    fwd2 = ForwardLog(again.connection, max_bytes=5 * len(ROW))
    assert [seq for seq, _ in fwd2.after(0, 100)] == [4, 5, 6]
    assert (fwd2.stream, fwd2.dropped_events, fwd2.bytes) == (fwd.stream, 9, 3 * len(ROW))
    fwd2.acked = 6
    fwd2.prune()
    assert fwd2.after(0, 100) == [] and fwd2.bytes == 0
    assert _append(again, fwd2) == 7  # a seq is never reused
    again.close()


def test_a_failed_commit_keeps_neither_the_lines_nor_the_row(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", background_checkpoints=False)
    fwd = ForwardLog(outbox.connection, max_bytes=1 << 20)
    keep = fwd.keep(ROW, 1)

    def fails(c: object) -> None:
        keep(c)  # type: ignore[arg-type]
        raise OSError("disk full")

    with pytest.raises(OSError):
        outbox.append([(Priority.EVENT, "m f=1i 1")], also=fails)
    fwd.rolled_back()
    assert fwd.after(0, 10) == [] and fwd.rows == 0 and outbox.stats().depth_records == 0
    assert _append(outbox, fwd) is not None
    outbox.close()

"""The outbox's cursor per sink (gateway/store/cursors.py), the district's line relabelling, its
token bucket and its configuration: no servers needed (the processes are in test_district.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config.district import District
from gateway.domain.canonical import Priority
from gateway.store.district import relabel
from gateway.store.outbox import Outbox
from gateway.store.pace import TokenBucket

E, T = Priority.EVENT, Priority.TELEMETRY
SINKS = ("local", "district")


def line(n: int, size: int = 100) -> str:
    text = f"m,id={n} v=1i {n}"
    return text + "x" * (size - len(text))


def ids(lines: list[str]) -> list[int]:
    return [int(x.split("id=")[1].split(" ")[0]) for x in lines]


def test_each_sink_gets_every_record_and_a_record_goes_when_both_have_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", cursors=SINKS)
    box.append([(T, line(1)), (E, line(2)), (T, line(3))])
    local, district = box.cursor("local"), box.cursor("district")
    local.ack(local.peek(10))
    assert local.depth_records == 0 and district.depth_records == 3
    assert box.depth_records == 3  # kept for the district
    box.append([(T, line(4))])
    assert ids(local.peek(10).lines) == [4]
    batch = district.peek(2)
    assert ids(batch.lines) == [2, 1]
    district.ack(batch)
    assert box.depth_records == 2  # 1 and 2 went; 3 waits for the district, 4 for both
    box.close()
    again = Outbox(tmp_path / "o.db", cursors=SINKS)  # the cursors are in the file
    assert ids(again.cursor("district").peek(10).lines) == [3, 4]
    assert ids(again.cursor("local").peek(10).lines) == [4]
    s = again.stats()
    assert s.pending_by_sink == {"local": 1, "district": 2}
    assert s.delivered_by_sink == {"local": 3, "district": 2}
    again.close()


def test_a_sink_no_longer_configured_holds_nothing_back(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", cursors=SINKS)
    box.append([(T, line(1)), (T, line(2))])
    box.close()
    alone = Outbox(tmp_path / "o.db")
    alone.ack(alone.peek(10))
    assert alone.depth_records == 0
    alone.close()


def test_a_full_outbox_evicts_what_only_the_held_back_sink_lacks_and_counts_it_for_that_sink(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.db", cursors=SINKS, max_bytes=1000, warn_interval_s=0)
    local = box.cursor("local")
    for n in range(30):
        box.append([(E, line(n))])
        local.ack(local.peek(10))  # the local sink keeps up; the district is away
    s = box.stats()
    assert s.dropped_by_sink == {"local": 0, "district": 20}
    assert s.pending_by_sink == {"local": 0, "district": 10}
    assert ids(box.cursor("district").peek(100).lines) == list(range(20, 30))
    box.close()
    assert "per sink: district 20, local 0" in caplog.text


def test_relabel_sets_the_site_tag_and_keeps_the_rest() -> None:
    assert relabel("m,device=a,site=dur v=1i 5", "town-07") == "m,device=a,site=town-07 v=1i 5"
    assert relabel("m,device=a v=1i 5", "t") == "m,device=a,site=t v=1i 5"
    assert relabel('m\\ x,k=a\\,b f="s p" 5', "t") == 'm\\ x,k=a\\,b,site=t f="s p" 5'


def test_the_token_bucket_never_grants_more_than_burst_plus_rate_times_time() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:  # the clock moves instead of waiting
        now[0] += seconds

    bucket = TokenBucket(rate=100, burst=50, clock=lambda: now[0], sleep=sleep)
    granted: list[float] = []

    async def run() -> None:
        stop = asyncio.Event()
        for _ in range(40):
            assert await bucket.take(30, stop)
            granted.append(now[0])

    asyncio.run(run())
    for i, ti in enumerate(granted):
        for j in range(i, len(granted)):
            assert 30 * (j - i + 1) <= 50 + 100 * (granted[j] - ti) + 1e-6
    assert granted[-1] >= (40 * 30 - 50) / 100 - 1e-6  # and it does hold the pace back
    with pytest.raises(ValueError, match="over the bucket's burst"):
        asyncio.run(bucket.take(51, asyncio.Event()))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "tsdb:8428"}, "不是 http(s) 网址"),
        ({"url": "http://u:pw@tsdb:8428"}, "不要写账号密码"),
        ({"url": "http://tsdb:8428", "tls": {}}, "不是 https://"),
        ({"url": "http://tsdb:8428", "catch_up_rate": 0}, "greater than 0"),
        ({"url": "http://tsdb:8428", "site_label": "Town 7"}, "pattern"),
        ({"url": "http://tsdb:8428", "api": "graphite"}, "victoriametrics"),
        ({"url": "http://tsdb:8428", "password_env": "X"}, "需要同时填写 district.username"),
    ],
)
def test_district_configuration_is_refused_with_a_message_that_says_what_to_fix(settings, message) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        District.model_validate(settings)

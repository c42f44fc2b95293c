"""The district store as a sink: the site's lines with the site tag the district knows it by.

VictoriaMetrics takes InfluxDB line protocol at /write (each numeric field becomes the series
`{measurement}_{field}`, tags become labels, stored at millisecond precision); InfluxDB 1.x at
/write?db=. Duplicates: a batch sent again after a cut or a SIGKILL carries the same series and
timestamps, which InfluxDB overwrites and VictoriaMetrics run with -dedup.minScrapeInterval=1ms
keeps once (the README's operations section says how to run it).
"""

from __future__ import annotations

import re
import time

from gateway.store.sinks import InfluxV1Sink
from gateway.store.vouch import Vouch

# The series key ends at the first space not escaped by a backslash; tags are split likewise.
_KEY_END = re.compile(r"(?<!\\) ")
_TAG_SPLIT = re.compile(r"(?<!\\),")


def relabel(line: str, site: str) -> str:
    """The line with its `site` tag set to `site` (added when missing); everything else as is."""
    m = _KEY_END.search(line)
    if m is None:
        return line  # not a point; the store will say so
    key, rest = line[: m.start()], line[m.start() :]
    parts = _TAG_SPLIT.split(key)
    tags = [t for t in parts[1:] if not t.startswith("site=")]
    return ",".join([parts[0], *sorted([*tags, f"site={site}"])]) + rest


class DistrictSink:
    """An InfluxDB-v1-protocol writer whose lines carry the district's site label; it sends only
    the points it vouches for (gateway/store/vouch.py) and checks our clock against the store's."""

    name = "district"

    def __init__(self, inner: InfluxV1Sink, site_label: str, vouch: Vouch) -> None:
        self.inner = inner
        self.url = inner.url
        self.site_label = site_label
        self.vouch = vouch

    async def write(self, lines: list[str]) -> None:
        kept = self.vouch.sort(lines, time.time_ns())
        self.inner.last_date = None
        try:
            await self.inner.write([relabel(line, self.site_label) for line in kept])
        finally:
            self.vouch.saw_date(self.inner.last_date, time.time())

    async def close(self) -> None:
        await self.inner.close()

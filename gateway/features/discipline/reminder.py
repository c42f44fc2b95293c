"""每日差评工作提醒 (the product brief's daily 差评 reminder): at the configured time of each hall
day, one message to the hall's work groups (`discipline.reminder.to`: the robots of those
departments) listing the day's 差评 per window, with the reasons and each work order's state.

It rides on the command desk's tick, with the tick's time (a test gives its own). The day is written
(`reminders`, one row a day) in the same transaction as the messages it queues in the durable
delivery queue, so a gateway killed and restarted at any point sends the day's reminder once:
queued by the run that wrote the row, delivered by the robots' senders (their pace, 20 a minute a
robot, and their retries) whichever run is up. A day without 差评 sends nothing (unless
`when_none`): its first 差评 after the time is told then (looked for once a minute). A gateway
down at the time sends it when it is back, that day; never for a day gone by."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.config.hall import HallConfig
from gateway.domain import bad_ratings_notice as words
from gateway.features.discipline.notify import PREFIX, Notices
from gateway.i18n.catalogue import label
from gateway.kinds.reads import RatingsRecord
from gateway.store.repos.reminders import Reminders

KIND = "bad_ratings"
RECHECK_NS = 60 * 10**9


class DailyReminder:
    def __init__(self, cfg: HallConfig, ratings: RatingsRecord | None, repo: Reminders, notices: Notices) -> None:
        self.r = cfg.discipline.reminder
        self.hall = cfg.name or cfg.site
        self.zone = ZoneInfo(cfg.timezone)
        self.ratings, self.repo, self.notices = ratings, repo, notices
        self.done: str | None = None  # the last day known sent: spares the database a read a second
        self.wait_until = 0  # a day without 差评 yet is looked at again then

    def tick(self, now_ns: int) -> None:
        if not self.r.to:
            return
        t = datetime.fromtimestamp(now_ns / 1e9, self.zone)
        day = t.date().isoformat()
        if t.time() < self.r.at or day == self.done or now_ns < self.wait_until:
            return
        if self.repo.sent(KIND, day):
            self.done = day
            return
        start = int(t.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1e9)
        orders = sorted(self.ratings.orders_rated(start, now_ns) if self.ratings else [], key=lambda o: o.rated_ns)
        rows = [
            {
                "window": o.window,
                "at": datetime.fromtimestamp(o.rated_ns / 1e9, self.zone).strftime("%H:%M"),
                "score": o.score,
                "reasons": [label("bad_reason", r) for r in o.reasons],
                "state": label("workorder_state", o.state),
                "order": o.id,
            }
            for o in orders
        ]
        if not rows and not self.r.when_none:
            # Nothing to tell yet: the day's first 差评 after the time is told when it comes.
            self.wait_until = now_ns + RECHECK_NS
            return
        body = json.dumps(words.bad_ratings(self.hall, day, rows), ensure_ascii=False)
        sends = [(PREFIX + dept, body) for dept in self.r.to]
        if self.repo.send(KIND, day, len(rows), sends, now_ns):
            self.notices.queued(sends)
        self.done = day

"""The discipline ledger (违规台账): violations the devices show, recorded with their evidence, and
what people do with them (confirm or dismiss, appeal, decide), with the three strikes.

A cross-kind feature: who is in and each slot's phone come through the read APIs
(gateway/kinds/reads.py `Presence`, `Slots`), the approved unlocks from the command audit. The
check rides on the command desk's tick (`watch.py`), the lifecycle and strikes are in `ledger.py`,
the routes in `api.py`, the day's exposure on the wall in `exposure.py`, the departments told
through their robots in `notify.py` and `robots.py`, the daily 差评 reminder to the hall's work
groups in `reminder.py`, the deletion past the retention in `retention.py`. What people add (巡查: their records,
photos, 整改通知单, the counts) is `rounds.py`, its routes `patrol_api.py`.
"""

from __future__ import annotations

from gateway.commands.riders import Rider
from gateway.features.discipline.feed import ViolationFeed
from gateway.features.discipline.ledger import Ledger
from gateway.features.discipline.notify import Notices
from gateway.features.discipline.reminder import DailyReminder
from gateway.features.discipline.retention import Retention
from gateway.features.discipline.rounds import Rounds
from gateway.features.discipline.watch import Watch
from gateway.kinds.reads import Presence, RatingsRecord, Slots
from gateway.kinds.wiring import Parts, Running
from gateway.staff_registry import Roster


def run(running: Running) -> Parts:
    """Built in every hall (nothing is found without a clock-in machine: its routes then list
    an empty ledger)."""
    p, repos = running.projections, running.journal.repos
    roster = Roster(running.cfg, running.journal)  # who is who now: a POST /api/v1/staff counts at once
    watch = Watch(running.cfg, p.reads(Presence), p.reads(Slots), repos.violations, repos.audit, roster)
    notices = Notices(running.cfg, repos.deliveries, roster)
    strikes = running.cfg.discipline.strikes
    ledger = Ledger(repos.violations, strikes, running.cfg.timezone, running.desk.clock, notices)
    running.desk.riders.add(Rider("discipline", tick=watch.tick, conditions=ledger.conditions))
    running.desk.riders.add(Rider("discipline robots", conditions=notices.conditions))
    reminder = DailyReminder(running.cfg, p.reads(RatingsRecord), repos.reminders, notices)
    running.desk.riders.add(Rider("daily reminder", tick=reminder.tick))
    photos = running.cfg.store.state_file.parent / "photos"  # beside the state database that names them
    keep = Retention(
        running.cfg.discipline, running.cfg.timezone, repos.violations, repos.ledger_reads, repos.audit, photos
    )
    running.desk.riders.add(Rider("ledger retention", tick=keep.tick))
    rounds = Rounds(repos.violations, repos.patrol, roster, photos, running.desk.clock)
    running.desk.riders.add(Rider("notices", conditions=rounds.conditions))
    feed = ViolationFeed(repos.violations, running.cfg.timezone)  # each change on MQTT (feed.py)
    repos.violations.told = feed.rows
    return Parts(serves=[watch, ledger, rounds], webhooks=notices.webhooks(), feeds=[feed.feed])

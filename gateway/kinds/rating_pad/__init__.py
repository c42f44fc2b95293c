"""Window rating pad (评价器): one per window; citizens rate each service 1-5.

Its projection keeps one rating per case in the state database (figures for any period), opens a
rectification work order for every 差评, and reports to the alert lifecycle each new 差评 (an alert
only a person closes), overdue orders and windows with too many 差评 today.

The 差评 alert is a condition the projection reports once, at the next tick (within a second),
rather than a kind alarm: only the projection knows whether a `rated` event is a new rating or a
resend of one already alerted (a pad resends its backlog; a replay after the alert was closed
must not open it again), and the lifecycle stores all the alerts of a tick in one transaction
instead of one per event (a flood of 差评 must not stall the hub's batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.domain.calendar import WorkCalendar
from gateway.domain.canonical import Event
from gateway.domain.conditions import Condition
from gateway.domain.rated_visits import VisitRates
from gateway.domain.ratings import Rating, from_fields
from gateway.domain.workorders import WorkOrder, deadline_ns, transition
from gateway.kinds.base import Kind, Param, low_battery
from gateway.kinds.rating_pad import words
from gateway.kinds.rating_pad.pages import PAGES
from gateway.kinds.rating_pad.store import RatingStore
from gateway.kinds.rating_pad.visit_rates import rates_by
from gateway.kinds.reads import RatingsRecord, Visits
from gateway.store.staged import attach

if TYPE_CHECKING:
    from gateway.kinds.base import DeviceView as DeviceEntry
    from gateway.kinds.base import StateDatabase
    from gateway.kinds.rating_pad.settings import RatingsContext as HallConfig

RATED, UNRATED = "rated", "unrated"
KIND_NAME = "rating_pad"
NEW_BAD_LIMIT = 10_000  # 差评 alerts waiting for the next tick (the work orders are kept regardless)


def describe(f: Mapping[str, Any]) -> str:
    reasons = f.get("reasons") or []
    reasons = reasons.split(",") if isinstance(reasons, str) else reasons
    case = f.get("case_id") or "(no case id)"
    return (
        f"差评 {f.get('score')} at window {f.get('window') or '?'}: staff {f.get('staff_id') or '?'}, "
        f"item {f.get('item') or '?'}, reasons {', '.join(reasons) or 'none given'}, case {case}"
    )


def bad_rating(r: Rating, names: Mapping[str, str]) -> Condition:
    """A 差评 must reach the duty manager at once; it stays until a person closes it. Its words name
    the person from the staff registry (`names`: staff id -> name), the 工号 beside."""
    key = f"case {r.case_id}" if r.case_id else f"{r.device}#{r.seq}"
    fields = {"score": r.score, "window": r.window, "staff_id": r.staff, "item": r.item, "reasons": r.reasons}
    said = {
        "score": r.score,
        "window": r.window,
        "staff": f"{names[r.staff]}（工号 {r.staff}）" if r.staff in names else r.staff and f"工号 {r.staff}",
        "item": r.item,
        "reasons": "、".join(words.LABELS["bad_reason"].get(x, x) for x in r.reasons),
        "case_id": r.case_id,
    }
    text = describe({**fields, "case_id": r.case_id})
    return Condition("bad_rating", key, "critical", text, r.device, manual=True, params=said)


class RatingsProjection:
    name = "ratings"

    def __init__(self, cfg: HallConfig, devices: Mapping[str, DeviceEntry]) -> None:
        self.tz = cfg.timezone
        # A 差评's alert names the person: the file's names until the kind's run (feed.py) gives the
        # registry as it is now (gateway/staff_registry.py; imported there, as it imports this package).
        file_names = {p.id: p.name for p in cfg.staff}
        self.names: Callable[[], Mapping[str, str]] = lambda: file_names
        self.zone = ZoneInfo(cfg.timezone)
        wh = cfg.working_hours
        self.calendar = WorkCalendar.of(wh.days, wh.holidays, wh.workdays)
        self.deadline_days = cfg.ratings.deadline_working_days
        self.window_limit = cfg.ratings.window_bad_limit
        self.zones = {d.id: d.config.zone or "" for d in devices.values() if d.kind == KIND_NAME}
        self.windows = {d.id: d.config.window or "" for d in devices.values() if d.kind == KIND_NAME}
        self.store: RatingStore | None = None
        self.counts: Counter[str] = Counter()  # new, resend, duplicate, replaced, orders
        # (day, 差评 per window): read once a day, then counted up as they come (reading them every
        # tick read the whole day's ratings, a cost growing all day long)
        self._bad_today: tuple[str, Counter[str]] | None = None
        self._new_bad: list[Condition] = []  # 差评 not yet reported to the alert lifecycle
        self._pending: list[tuple[Rating, int]] = []  # this batch's ratings, with the batch's time
        self._day: tuple[int, int, str] = (0, 0, "")  # the last local day seen: [start, end) ns, ISO

    def attach(self, journal: StateDatabase) -> Callable[[], None]:
        self.store, close = attach(journal.path, RatingStore)
        return close

    def local_day(self, ts_ns: int) -> date:
        return datetime.fromtimestamp(ts_ns / 1e9, self.zone).date()

    def _day_iso(self, ts_ns: int) -> str:
        """The hall's local date of `ts_ns`, ISO; the last day's bounds are kept, as nearly every
        rating of a batch falls on the same day as the one before it."""
        start, end, iso = self._day
        if start <= ts_ns < end:
            return iso
        d = self.local_day(ts_ns)
        start, end = self.day_bounds(d)
        self._day = (start, end, d.isoformat())
        return self._day[2]

    def day_bounds(self, d: date) -> tuple[int, int]:
        start = datetime.combine(d, datetime.min.time(), self.zone)
        end = datetime.combine(d + timedelta(days=1), datetime.min.time(), self.zone)
        return int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9

    def apply(self, event: Event, now_ns: int) -> None:
        name = event.name
        if (name != RATED and name != UNRATED) or self.store is None:
            return
        zone = self.zones.get(event.device)
        if zone is None:
            return
        fields = event.fields
        if "window" not in fields:
            fields = {**fields, "window": self.windows[event.device]}
        r = from_fields(name == RATED, event.device, event.seq, event.ts_ns, self._day_iso(event.ts_ns), fields, zone)
        # Looked up and staged for the whole batch at once, in after_batch.
        self._pending.append((r, now_ns))

    def after_batch(self, now_ns: int) -> None:
        self._settle()

    def _settle(self) -> None:
        """The batch's ratings against the stored ones (two queries for the batch), staged for one
        transaction after the batch; work orders and 差评 alerts for the new ones."""
        pending, self._pending = self._pending, []
        if not pending or self.store is None:
            return
        outcomes = self.store.add_many([r for r, _ in pending])
        self.store.flush_soon()
        for (r, now_ns), outcome in zip(pending, outcomes, strict=True):
            self.counts[outcome] += 1
            if outcome == "replaced":
                self._bad_today = None  # the one it replaced may have been a 差评: read them again
            elif outcome == "new" and r.bad and self._bad_today is not None and self._bad_today[0] == r.day:
                self._bad_today[1][r.window] += 1
            if (
                outcome in ("new", "replaced")
                and r.bad
                and self._open_order(r, now_ns)
                and len(self._new_bad) < NEW_BAD_LIMIT
            ):
                self._new_bad.append(bad_rating(r, self.names()))

    def _open_order(self, r: Rating, now_ns: int) -> bool:
        assert self.store is not None and r.score is not None
        due = deadline_ns(r.ts_ns, self.calendar, self.tz, self.deadline_days)
        o = WorkOrder(
            0, r.key, r.case_id, r.window, r.staff, r.item, r.score, r.reasons, r.device, r.ts_ns, now_ns, due,
            updated_ns=now_ns,
        )  # fmt: skip
        if not self.store.open_order(o):
            return False
        self.counts["orders"] += 1
        return True

    def act(
        self, order_id: int, action: str, who: str, text: str, now_ns: int, satisfaction: str | None = None
    ) -> WorkOrder | None:
        """A person moves an order on (TransitionError when it may not); None: no such order."""
        assert self.store is not None
        self._settle()
        o = self.store.order(order_id)
        if o is None:
            return None
        moved = transition(o, action, text, now_ns, satisfaction)
        self.store.save_transition(moved, action, who, o.state, text)
        return moved

    def ratings_between(self, start_ns: int, end_ns: int) -> list[Rating]:
        """`RatingsRecord` (the operations reports)."""
        if self.store is None:
            return []
        self._settle()
        return self.store.between(start_ns, end_ns)

    def orders_rated(self, start_ns: int, end_ns: int) -> list[WorkOrder]:
        """`RatingsRecord`: the orders of the 差评 given in [start, end)."""
        return self.store.orders_rated(start_ns, end_ns) if self.store is not None else []

    def first_day(self) -> str | None:
        """`RatingsRecord`: the first day of a rating kept."""
        if self.store is None:
            return None
        self._settle()
        return self.store.first_day()

    def rated_visits(
        self, visits: Visits, start_ns: int, end_ns: int, groupings: Sequence[str]
    ) -> tuple[VisitRates, dict[str, dict[str, VisitRates]]]:
        """`RatingsRecord`: 评价率 against the served visits, as the ratings summary counts it."""
        if self.store is None:
            return VisitRates(), {by: {} for by in groupings}
        self._settle()
        zone_of = {w: self.zones[d] for d, w in self.windows.items()}
        return rates_by(self.store, visits, start_ns, end_ns, groupings, zone_of)

    def conditions(self, now_ns: int) -> list[Condition]:
        if self.store is None:
            return []
        self._settle()  # ratings applied outside a hub batch (the hub settles them in after_batch)
        # Reported once: the lifecycle keeps a manual alert open until a person closes it.
        out, self._new_bad = self._new_bad, []
        out += [
            Condition(
                "workorder_overdue",
                f"workorder {o.id}",
                "warning",
                f"work order {o.id} ({o.window}, case {o.case_id or '-'}) past its deadline, still {o.state}",
                params={
                    "order": o.id,
                    "window": o.window,
                    "case_id": o.case_id,
                    "order_state": words.LABELS["workorder_state"].get(o.state, o.state),
                },
            )
            for o in self.store.orders(overdue_at=now_ns, limit=1000)
        ]
        today = self.local_day(now_ns).isoformat()
        if self._bad_today is None or self._bad_today[0] != today:
            start, end = self.day_bounds(self.local_day(now_ns))
            self._bad_today = (today, Counter(self.store.bad_by_window(start, end)))
        for window, n in sorted(self._bad_today[1].items()):
            if n >= self.window_limit:
                out.append(
                    Condition(
                        "bad_ratings_window",
                        f"{window} {today}",
                        "warning",
                        f"{n} 差评 at window {window} today",
                        params={"window": window, "n": n},
                    )
                )
        return out

    def state(self) -> None:
        return None  # everything it keeps is in the state database as it happens

    def restore(self, state: dict[str, Any]) -> None:
        pass


KIND = Kind(
    name=KIND_NAME,
    description="window rating pad (评价器)",
    label="评价器",
    params=frozenset({"window", "zone"}),
    device_params={"window": Param(str)},  # the window the pad rates
    signals={RATED: frozenset({"score"}), UNRATED: frozenset()},
    # A pad that sends "no score" (a vendor's 0, profile `absent: [0]`) asked and got no rating:
    # an unrated visit, which the rating rate (评价率) counts.
    without={RATED: ("score", UNRATED)},
    rules=(low_battery,),
    projections=(RatingsProjection,),
    provides={RatingsRecord: RatingsProjection},
    router="gateway.kinds.rating_pad.api:router",
    runs="gateway.kinds.rating_pad.feed:run",  # its work orders on MQTT
    stores=(RatingStore,),
    errors=words.ERRORS,
    labels=words.LABELS,
    pages=PAGES,
    page_words=words.PAGE_WORDS,
    summaries=words.SUMMARIES,
    closed_by=words.CLOSED_BY,
)

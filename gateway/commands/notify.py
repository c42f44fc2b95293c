"""Tell the applicant: each pickup code, and a reminder before it expires, through a webhook.

The webhook (`lockers.notify`, typically the hall's SMS or messaging gateway) is fed by the same
durable queue as the alert deliveries (the `deliveries` table, target "pickup", sent by
gateway/alerts/delivery.py `deliver()`): a code issued while the receiver is down, or just before
the gateway stops, is delivered when it is back, once per delivery id (`X-Hallgate-Delivery`).

The code is in the queued payload until the receiver took it (then the row is deleted): that is
the price of a delivery that survives a restart, and the state database is the gateway's own
file. It is never logged. The reminder carries no code: the gateway keeps only its hash.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gateway.commands.audit import iso_time
from gateway.config.hall import HallConfig
from gateway.store.journal import Journal

TARGET = "pickup"


class PickupNotifier:
    def __init__(self, cfg: HallConfig, journal: Journal) -> None:
        self.cfg = cfg
        self.journal = journal
        self.wake = asyncio.Event()  # set when something is queued: the sender need not wait its idle time
        self.remind_before_ns = int(cfg.lockers.remind_before_h * 3600e9)

    def _body(self, event: str, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": event,
            "site": self.cfg.site,
            "item_id": item["id"],
            "locker": item["locker"],
            "door": item["door"],
            "item": item["item"],
            "applicant": item["applicant"],
            "expires_at": iso_time(item["expires_ns"], self.cfg.timezone),
        }

    def issued(self, item: dict[str, Any], code: str, qr: str) -> None:
        """A PickupDesk notifier: queue the code for the applicant."""
        body = self._body("pickup_code", item) | {"code": code, "qr": qr}
        self.journal.queue_delivery(TARGET, json.dumps(body, ensure_ascii=False))
        self.wake.set()

    def remind(self, items: list[dict[str, Any]], now_ns: int) -> None:
        """Queue one reminder for each waiting item that expires within remind_before_h."""
        for item in items:
            due = item["expires_ns"] - self.remind_before_ns
            if item["state"] != "waiting" or item.get("reminded_ns") or not due <= now_ns < item["expires_ns"]:
                continue
            body = self._body("pickup_reminder", item)
            self.journal.queue_delivery(TARGET, json.dumps(body, ensure_ascii=False), reminded_item=item["id"])
            item["reminded_ns"] = now_ns
            self.wake.set()

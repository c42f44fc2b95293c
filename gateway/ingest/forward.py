"""What an ingest worker and the gateway say to each other over their socket pair.

Frames: a 4-byte length, then a pickle. Pickle because both ends are this program, the socket
pair is made by the gateway and given only to the child it starts (nothing else can connect),
and events carry Python values (ints, floats, bools, strings, lists) that JSON would widen.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from pathlib import Path
from typing import Any

from gateway.config.hall import HallConfig

HEADER = struct.Struct("!I")


def frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame; asyncio.IncompleteReadError when the other end has gone."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    return pickle.loads(await reader.readexactly(size))


def share_group(cfg: HallConfig) -> str:
    return f"hallgate-{cfg.site}"


def worker_client_id(cfg: HallConfig, index: int) -> str:
    return f"{cfg.client_id}-w{index}"


def worker_username(cfg: HallConfig, index: int) -> str | None:
    """The broker user a worker logs in as (the gateway's password): the broker binds each client
    id to its user (`use_username_as_clientid`, gateway/broker_config.py), so two clients of one
    user would take each other's session; each worker has a user of its own."""
    user = cfg.broker.username
    return f"{user}-w{index}" if user else None


def worker_outbox(cfg: HallConfig, index: int) -> Path:
    """Each worker's own outbox, beside the gateway's: var/outbox.sqlite -> var/outbox.w1.sqlite."""
    p = cfg.store.path
    return p.with_name(f"{p.stem}.w{index}{p.suffix}")

"""The one way down: every command to a device passes here (role, idempotency key, timeout,
confirmation by the device, audit record). See desk.py (the policy), senders/ (one per
transport), ledger.py (its rows in the state database); what a kind adds to it rides on it
(riders.py), from the kind's package."""

from gateway.commands.audit import Caller
from gateway.commands.desk import CommandDesk, Outcome, Refused

__all__ = ["Caller", "CommandDesk", "Outcome", "Refused"]

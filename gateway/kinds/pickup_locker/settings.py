"""`lockers:` in the hall file: pickup codes, their expiry, the wrong-code lockout and the
applicant's notification webhook (its token is a secret the environment holds)."""

from __future__ import annotations

from pydantic import Field

from gateway.config.base import Model, Webhook
from gateway.kinds.base import Settings

KEY = "lockers"


class Lockers(Model):
    """Pickup lockers: codes, expiry and the wrong-code lockout."""

    code_ttl_h: float = Field(72, gt=0, description="a pickup code expires this long after the deposit")
    lockout_failures: int = Field(5, ge=1, description="wrong codes per locker within lockout_window_s ...")
    lockout_window_s: float = Field(900, gt=0)
    lockout_s: float = Field(900, gt=0, description="... refuse further tries (429) this long")
    qr_prefix: str = Field("HGPICKUP", pattern=r"^[A-Z0-9]{1,16}$", description="first field of the QR payload")
    notify: Webhook | None = Field(
        None, description="a webhook (e.g. the hall's SMS gateway) that gets each code for its applicant, and reminders"
    )
    remind_before_h: float = Field(24, gt=0, description="remind the applicant this long before the code expires")


SETTINGS = Settings(KEY, Lockers, secrets=("notify.token_env",))

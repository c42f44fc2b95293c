"""The HTTP API: where it listens, and its tokens with their roles (the secrets stay in the
environment: a token names the variable that holds it)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from gateway.config.base import Model

MIN_TOKEN_CHARS = 16  # an API token must resist guessing

# `kiosk`: a pickup locker's own keypad or QR reader, bound to that locker (its token names it).
# `viewer`: reads what any role reads and changes nothing: the wall screen's token, in a link on a
# PC in the public hall.
Role = Literal["technician", "staff", "duty_manager", "manager", "admin", "viewer", "kiosk"]
# The roles of people (the demo makes one token each); a kiosk token is a locker's, not a person's.
ROLES: tuple[str, ...] = tuple(r for r in get_args(Role) if r != "kiosk")


class Token(Model):
    role: Role
    env: str = Field(description="name of the environment variable that holds the token")
    name: str | None = Field(
        None, max_length=64, description="who holds it, as the audit names them; default: the variable's name"
    )
    locker: str | None = Field(None, description="kiosk tokens only: the pickup locker (device id) it may open")
    staff_id: str | None = Field(
        None, max_length=64, description="staff tokens: the person's staff id (registry); default: the token's name"
    )

    @model_validator(mode="after")
    def _kiosk_locker(self) -> Token:
        if self.role == "kiosk" and self.locker is None:
            raise ValueError("kiosk 令牌绑定一台取件柜：请加上 locker: <设备编号>")
        if self.role != "kiosk" and self.locker is not None:
            raise ValueError(f"locker: 只有 kiosk 令牌绑定取件柜：请从这个 {self.role} 令牌中删去")
        return self

    @property
    def actor(self) -> str:
        return self.name or self.env

    @property
    def staff(self) -> str | None:
        """The staff id a staff token stands for (its own ledger, its notices); none for other roles."""
        return (self.staff_id or self.actor) if self.role == "staff" else None


class Wall(Model):
    """What the wall screen's `viewer` token is shown of people."""

    mask_names: bool = Field(True, description="names as 王* (the family name, the rest masked); false: in full")


class Sessions(Model):
    """Sign-in with a named account (gateway/signin/): how long a session lasts, when failed
    sign-ins lock a name or an address out."""

    idle_hours: float = Field(8, gt=0, le=24 * 7, description="a session ends after this long without a request")
    absolute_hours: float = Field(12, gt=0, le=24 * 30, description="and this long after sign-in, whatever happens")
    max_failures: int = Field(5, ge=1, le=100, description="failed sign-ins of one name that lock it out")
    max_failures_per_address: int = Field(
        20, ge=1, le=10_000, description="failed sign-ins from one client address that lock it out"
    )
    failure_window_minutes: float = Field(15, gt=0, le=24 * 60, description="failures older than this are forgotten")
    lockout_minutes: float = Field(15, gt=0, le=24 * 60, description="how long a lockout lasts")
    secure_cookie: Literal["auto", "always", "never"] = Field(
        "auto",
        description="the cookie's Secure flag; auto: when the request came over TLS (or X-Forwarded-Proto: https)",
    )


class Api(Model):
    # Never empty: "" would bind every interface (the API) or name no host (the broker).
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    tokens: list[Token] = Field(default_factory=list)
    wall: Wall = Wall()
    sessions: Sessions = Sessions()

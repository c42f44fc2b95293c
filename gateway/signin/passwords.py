"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile), names."""

from __future__ import annotations

import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # argon2 takes any length; a bound keeps a sign-in request cheap to refuse
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


def normal_name(name: str) -> str:
    """The sign-in name as kept: case does not matter (Wang.Fang and wang.fang are one person)."""
    return name.strip().lower()


def name_problem(name: str) -> str | None:
    """What is wrong with a sign-in name, in Chinese, or None."""
    if not NAME.match(name):
        return "登录名应为 2 到 32 个字符：小写字母、数字、点、下划线或连字符，以字母或数字开头"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_CHARS:
        return f"密码至少 {MIN_PASSWORD_CHARS} 个字符"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"密码最多 {MAX_PASSWORD_CHARS} 个字符"
    return None


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify(hash: str, password: str) -> bool:
    try:
        return hasher().verify(hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:
    return hasher().check_needs_rehash(hash)


@cache
def _nobody() -> str:
    return hash_password(secrets.token_urlsafe(24))


def verify_nobody(password: str) -> bool:
    """A sign-in under a name nobody has costs what a wrong password costs (a whole argon2 verify),
    so the time of the answer does not tell which names exist. Always False."""
    verify(_nobody(), password)
    return False

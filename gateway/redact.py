"""Keep secrets out of what the gateway shows: /readyz, /metrics, stats and log lines.

Two tools. `redact_url` hides the credentials a URL may carry (`user:password@`, and query
parameters such as InfluxDB 1.x's `?u=&p=`); `redact` hides them in any text, e.g. an error
message from a library that quoted the URL or echoed a header, and also removes the secret
values the caller knows (a token read from the environment), however they were quoted.
Imports nothing of ours: drivers, store and API may all use it.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"

# Query parameters whose value is a credential. InfluxDB 1.x takes `u` and `p`; the rest are
# the usual names for tokens and keys. `u` is a user name, not a secret, but it is half of a
# credential pair and costs nothing to hide.
SECRET_PARAMS = frozenset(
    {
        "p",
        "u",
        "password",
        "passwd",
        "pwd",
        "pass",
        "token",
        "access_token",
        "auth",
        "authorization",
        "api_key",
        "apikey",
        "key",
        "secret",
        "signature",
        "sig",
    }
)

# user:password@ in any URL inside a text (scheme://user:password@host).
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<secret>[^/\s@]*)(?P<at>@)")
# ?p=... or &token=... inside a text; the value runs to the next &, #, whitespace or quote.
_PARAM = re.compile(
    r"(?P<head>[?&;](?:" + "|".join(sorted(SECRET_PARAMS, key=len, reverse=True)) + r")=)(?P<secret>[^&#\s'\"]*)",
    re.IGNORECASE,
)
# Authorization headers echoed into a message: 'Authorization: Basic abc=' or 'Token abc'.
_AUTH_HEADER = re.compile(
    r"(?P<head>\bauthorization[\"']?\s*[:=]\s*[\"']?(?:basic|bearer|token)?\s*)(?P<secret>[^\s,'\"}]+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """The URL with its password and credential query parameters replaced by `***`.

    The user name in `user:password@` stays (it says which account is failing); anything that
    does not parse as a URL goes through the text patterns of `redact` instead.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            shown = [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
            query = urllib.parse.urlencode(shown, safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secret_forms(secrets: Iterable[str | None]) -> list[str]:
    """Every way a secret may show up in text: as is, URL-quoted, and as a Basic credential."""
    forms: set[str] = set()
    for s in secrets:
        if not s:
            continue
        forms.add(s)
        forms.add(urllib.parse.quote(s, safe=""))
        forms.add(urllib.parse.quote_plus(s))
    # Longest first, so a secret containing another is replaced whole.
    return sorted(forms, key=len, reverse=True)


def basic_credential(username: str, password: str) -> str:
    """The base64 text an `Authorization: Basic` header carries for this pair."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret value and every credential-looking part replaced by `***`.

    `secrets` are the values themselves (passwords, tokens); empty ones are ignored. The
    patterns (URL passwords, credential query parameters, Authorization headers) catch what the
    caller did not know about.
    """
    for s in secret_forms(secrets):
        text = text.replace(s, MASK)
    text = _USERINFO.sub(lambda m: m["head"] + MASK + m["at"], text)
    text = _PARAM.sub(lambda m: m["head"] + MASK, text)
    return _AUTH_HEADER.sub(lambda m: m["head"] + MASK, text)

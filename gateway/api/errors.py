"""Every error is JSON `{"error": code, "message": 中文, "next": 下一步, "detail": text}`, never a
stack trace. `error` is the machine code; `message` and `next` (where there is something to do)
come from the catalogue (gateway/i18n/), filled with the error's specifics; `detail` is the whole
of what went wrong in the reader's language (gateway/api/lang.py): in Chinese the catalogue's
sentence with its specifics (or, for a refused body or query, each field's problem in the words of
the configuration's errors), in English (`Accept-Language: en`) the English text of before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.i18n.catalogue import explain


class ApiError(Exception):
    """`params`: the specifics the Chinese message names (slot, role, ...), and `case` for a case
    of the code with its own words (`forbidden` + case `kiosk`: the catalogue's `forbidden/kiosk`)."""

    def __init__(self, status: int, code: str, detail: str, **params: Any) -> None:
        self.status, self.code, self.detail, self.params = status, code, detail, params


class ErrorOut(BaseModel):
    """The body of every error answer (documented in OpenAPI for each route that can give one)."""

    error: str
    message: str
    next: str | None = None
    detail: str


CJK = re.compile(r"[\u3400-\u9fff]")
DETAIL_MAX = 1000  # a detail may quote what the caller sent (an id): never kilobytes of it back


def _cut(text: str) -> str:
    return text[: DETAIL_MAX - 1] + "…" if len(text) > DETAIL_MAX else text


def body(
    code: str, detail: str, params: Mapping[str, Any] | None = None, lang: str = "zh", zh: str | None = None
) -> dict[str, str]:
    """`detail`: as the raiser said it (English, or Chinese already, which then is the Chinese detail);
    `zh`: the Chinese detail where it says more than the message."""
    said = {k: _cut(v) if isinstance(v, str) else v for k, v in (params or {}).items()}
    words = {k: _cut(v) for k, v in explain(code, said).items()}
    whole = words["message"] + (f"。{words['next']}" if words.get("next") else "")
    if zh is None and CJK.search(detail):
        zh = detail
    return {"error": code, **words, "detail": _cut(detail if lang == "en" else zh or whole)}


def too_large_detail(max_bytes: int) -> str:
    return f"the request body is larger than the API takes ({max_bytes} bytes)"


def too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse(
        body("too_large", too_large_detail(max_bytes), {"limit": max_bytes}),
        status_code=413,
        headers={"Connection": "close"},
    )

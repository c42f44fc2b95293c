"""Every error is JSON `{"error": code, "message": 中文, "next": 下一步, "detail": text}`, never a
stack trace. `error` is the machine code; `message` and `next` (where there is something to do)
come from the catalogue (gateway/i18n/), filled with the error's specifics; `detail` is the
English text of before, kept for the clients that read it."""

from __future__ import annotations

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


DETAIL_MAX = 1000  # a detail may quote what the caller sent (an id): never kilobytes of it back


def _cut(text: str) -> str:
    return text[: DETAIL_MAX - 1] + "…" if len(text) > DETAIL_MAX else text


def body(code: str, detail: str, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    said = {k: _cut(v) if isinstance(v, str) else v for k, v in (params or {}).items()}
    return {"error": code, **{k: _cut(v) for k, v in explain(code, said).items()}, "detail": _cut(detail)}


def too_large_detail(max_bytes: int) -> str:
    return f"the request body is larger than the API takes ({max_bytes} bytes)"


def too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse(
        body("too_large", too_large_detail(max_bytes), {"limit": max_bytes}),
        status_code=413,
        headers={"Connection": "close"},
    )

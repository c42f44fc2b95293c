"""Every error is JSON `{"error": code, "detail": text}`, never a stack trace."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status, self.code, self.detail = status, code, detail


class ErrorOut(BaseModel):
    """The body of every error answer (documented in OpenAPI for each route that can give one)."""

    error: str
    detail: str


DETAIL_MAX = 1000  # a detail may quote what the caller sent (an id): never kilobytes of it back


def body(code: str, detail: str) -> dict[str, str]:
    if len(detail) > DETAIL_MAX:
        detail = detail[: DETAIL_MAX - 1] + "…"
    return {"error": code, "detail": detail}


def too_large_detail(max_bytes: int) -> str:
    return f"the request body is larger than the API takes ({max_bytes} bytes)"


def too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse(
        body("too_large", too_large_detail(max_bytes)), status_code=413, headers={"Connection": "close"}
    )

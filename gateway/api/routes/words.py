"""The catalogue (gateway/i18n/) for the pages and for API clients: every error code's message and
next step, every value's label, and the pages' own words. Public, as the pages' scripts are: the
sign-in box needs its words before anyone has a token, and nothing in it is the hall's."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from gateway.i18n.catalogue import errors, labels, page_words
from gateway.i18n.pages import WORDS

router = APIRouter(tags=["system"])


class EntryOut(BaseModel):
    message: str  # 中文; `[...]` holds the specifics an answer fills in ({slot}, {role})
    next: str | None


class WordsOut(BaseModel):
    errors: dict[str, EntryOut]  # error code (or `code/case`) -> its words
    labels: dict[str, dict[str, str]]  # group (role, severity, health, ...) -> value -> label
    pages: dict[str, tuple[str, str]]  # a page word's key -> (中文, English)


def catalogue() -> dict[str, Any]:
    return {
        "errors": {code: {"message": e.message, "next": e.next} for code, e in errors().items()},
        "labels": labels(),
        "pages": page_words(WORDS),
    }


@router.get("/words", response_model=WordsOut, summary="The catalogue of words: error messages, labels, page words")
async def words() -> dict[str, Any]:
    return catalogue()


def words_js() -> Response:
    """The catalogue as a script the pages load before hallgate.js (`window.HG_WORDS`): their
    words are there when the page starts, with no request to wait for."""
    text = f"window.HG_WORDS = {json.dumps(catalogue(), ensure_ascii=False)};\n"
    return Response(text, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})

"""The language a caller reads: `Accept-Language`, Chinese unless English comes first (a hall's
API speaks Chinese; the pages send the language their reader chose, not the browser's)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header

Lang = Literal["zh", "en"]


def language(accept_language: Annotated[str | None, Header(include_in_schema=False)] = None) -> Lang:
    """`en`, `en-US;q=0.9, zh` -> en; anything else (none, zh-CN, *) -> zh."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "en" if first == "en" or first.startswith("en-") else "zh"


LangDep = Annotated[Lang, Depends(language)]

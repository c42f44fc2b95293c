"""The CJK font the PDF embeds, found by a fixed search path.

A PDF that only names a font shows boxes for Chinese on a machine without it (a phone, the
district's office PC); so the renderer embeds a subset of a TrueType font (the glyphs the report
uses, a few hundred KB at most). Debian's `fonts-wqy-microhei` is the one we ask for: outlines
only, 5 MB, a TTC whose face 0 is the proportional 文泉驿微米黑. `fonts-wqy-zenhei` (installed for
the browser tests' screenshots) is the fallback. `HALLGATE_PDF_FONT` names another file instead
(a .ttf, or a .ttc whose first face is used).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

PACKAGE = "fonts-wqy-microhei"
ENV = "HALLGATE_PDF_FONT"
SEARCH: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # Debian fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # Debian fonts-wqy-zenhei
)
PROBE = "中"  # a font without this glyph cannot set the reports' Chinese


class FontMissing(RuntimeError):
    """No usable CJK font: the message (Chinese, with `code` beside it) says what to install."""

    code = "pdf_font_missing"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"生成 PDF 需要中文字体：{detail}。请安装 Debian 软件包 {PACKAGE}"
            f"（apt-get install {PACKAGE}），或用环境变量 {ENV} 指定一个含中文字形的 TrueType 字体文件"
            f"（.ttf/.ttc） ({self.code})"
        )


def find_font(search: Sequence[Path] = SEARCH) -> Path:
    """The font file to embed: $HALLGATE_PDF_FONT if set (it must exist), else the first of
    `search` that exists."""
    named = os.environ.get(ENV, "").strip()
    if named:
        if not Path(named).is_file():
            raise FontMissing(f"环境变量 {ENV} 指定的字体文件 {named} 不存在")
        return Path(named)
    for path in search:
        if path.is_file():
            return path
    raise FontMissing("找不到字体文件（已查找 " + "、".join(str(p) for p in search) + "）")


@cache
def _register(path: Path) -> str:
    # Parsing a 5 MB TTC takes a moment: once per process and file. reportlab's registry is global.
    try:
        font = TTFont(f"HallgateCJK-{path.stem}", str(path), subfontIndex=0)
    except (TTFError, OSError) as exc:
        raise FontMissing(f"字体文件 {path} 无法读取（{exc}）") from exc
    if ord(PROBE) not in font.face.charToGlyph:
        raise FontMissing(f"字体文件 {path} 不含中文字形")
    pdfmetrics.registerFont(font)
    # One face for every style, so that <b> in a paragraph does not fall back to Helvetica.
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(font.fontName, bold, italic, font.fontName)
    return font.fontName


def cjk_font(search: Sequence[Path] = SEARCH) -> str:
    """The registered reportlab name of the CJK font, found and loaded on first use."""
    return _register(find_font(search))

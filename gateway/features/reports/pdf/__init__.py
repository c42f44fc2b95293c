"""The operations report as a PDF (issue 24): A4 portrait, charts and tables, a CJK TrueType font
embedded as a subset so that it reads the same on any machine.

`render_pdf(report)`, also named `render` (the name gateway/features/reports/render.py looks up),
takes the report model (gateway/features/reports/model.py; what it reads is in `shape.py`) and
gives the file's bytes; `fonts.py` finds the font, `tables.py` and `charts.py` draw the parts,
`document.py` lays out the pages.
"""

from __future__ import annotations

from .document import render_pdf
from .fonts import FontMissing

render = render_pdf

__all__ = ["FontMissing", "render", "render_pdf"]

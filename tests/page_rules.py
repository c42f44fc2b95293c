"""The rules every page is held to in a real browser (issue 22), shared by the screen tests:

- no code in visible text: a visible text node may not hold, as a whole word, an ASCII value of the
  catalogue's labelled groups or an error code (`ok`, `offline`, `open`, `critical`, `attitude`,
  `called_back`, `forbidden`, ...). A code is
  fine where it is marked as one: inside `<code>` (the small muted code beside its label) or an
  element of class `code`, or in a `title` attribute (not text). Text of a closed <select>'s other
  options is not shown and not read; the selected option's is.
- the wall read from 5 m: no visible text under 24 px (`small_texts`).
- nothing outside the viewport: no element beyond the screen's left or right edge (what scrolls
  sideways inside its own box aside), no visible button cut off, the page itself not wider.
- nothing cut off: no visible text reaching past a box that hides its overflow (`overflow: hidden`
  or `clip`, a card of a fixed height, an ellipsis), there or in any box around it (`clipped_texts`):
  what does not fit must grow its box, wrap or scroll."""

from __future__ import annotations

import re
from typing import Any

from selenium import webdriver

from gateway.i18n.catalogue import errors, labels

NOT_SHOWN = ("route",)  # the catalogue's groups that are no value a page shows (routes' summaries)
WORD = re.compile(r"[A-Za-z0-9_./:-]+")  # a device id (qs-hall), a topic (hall/demo-hall/...) is one word
WALL_MIN_PX = 24.0

# Every visible text on the page, but for the codes marked as codes.
VISIBLE_TEXT = """
const out = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(); n; n = walk.nextNode()) {
  const el = n.parentElement;
  if (!el || !n.textContent.trim() || el.closest("code, .code, script, style, option, title")) continue;
  if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) || !el.getClientRects().length) continue;
  out.push(n.textContent.trim());
}
for (const s of document.querySelectorAll("select")) {
  if (s.checkVisibility() && s.selectedOptions[0]) out.push(s.selectedOptions[0].textContent);
}
return out;
"""

# Every text node inside the viewport, rendered, not transparent: its text, its element's computed
# font size and tag, and where it is.
TEXTS_IN_VIEW = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const text = n.textContent.trim();
  if (!text) continue;
  const el = n.parentElement;
  const range = document.createRange(); range.selectNodeContents(n);
  const r = range.getBoundingClientRect();
  if (!r.width || !r.height || r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) continue;
  const style = getComputedStyle(el);
  if (style.visibility !== "visible" || Number(style.opacity) === 0) continue;
  out.push([text, parseFloat(style.fontSize), el.tagName, Math.round(r.top), Math.round(r.left)]);
}
return out;
"""

# What lies beyond the right or left edge of the screen, not inside a box that scrolls sideways on purpose.
BEYOND = """
const w = document.documentElement.clientWidth, out = [];
const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
  if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true; } return false; };
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
  if ((r.right > w + 0.5 || r.left < -0.5) && !scrolls(el))
    out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${Math.round(r.left)}-${Math.round(r.right)}`);
}
return out;
"""

# Each visible text node against every box around it that hides its overflow (on the axis it hides):
# a text reaching more than 1 px past the box's inside is cut off. A box of 1 px or less is text
# hidden on purpose (for screen readers only), not a cut.
CLIPPED = """
const out = [];
const hides = (v) => v === "hidden" || v === "clip";
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walk.nextNode(); n; n = walk.nextNode()) {
  const text = n.textContent.trim(), el = n.parentElement;
  if (!text || !el || el.closest("script, style, option, title")) continue;
  if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
  const range = document.createRange(); range.selectNodeContents(n);
  const r = range.getBoundingClientRect();
  if (!r.width || !r.height) continue;
  for (let p = el; p && p !== document.documentElement; p = p.parentElement) {
    const s = getComputedStyle(p), x = hides(s.overflowX), y = hides(s.overflowY);
    if (!x && !y) continue;
    const b = p.getBoundingClientRect();
    if (b.width <= 1 || b.height <= 1) break;
    const left = b.left + p.clientLeft, top = b.top + p.clientTop;
    const cut = (x && (r.left < left - 1 || r.right > left + p.clientWidth + 1))
      || (y && (r.top < top - 1 || r.bottom > top + p.clientHeight + 1));
    if (cut) {
      const box = [p.tagName.toLowerCase() + (p.id ? "#" + p.id : ""), ...p.classList].join(".");
      const inside = `${Math.round(top)}-${Math.round(top + p.clientHeight)}`;
      out.push(`${text.slice(0, 30)} (${Math.round(r.top)}-${Math.round(r.bottom)}) cut by ${box} (${inside})`);
      break;
    }
  }
}
return out;
"""

BUTTONS = """
return [...document.querySelectorAll("button")].filter((b) => b.checkVisibility() && b.getClientRects().length)
  .map((b) => {
    const r = b.getBoundingClientRect();
    return [b.id || b.textContent.trim(), r.left, r.right, r.width];
  });
"""


def catalogue_codes() -> set[str]:
    """The catalogue's codes a page must show by their words: every value of its labelled groups
    (states, roles, severities, reasons, ...) and every error code, those that are one ASCII word."""
    values = {v for group, table in labels().items() if group not in NOT_SHOWN for v in table}
    values |= {code.split("/")[0] for code in errors()}
    return {v for v in values if re.fullmatch(r"[A-Za-z_]+", v)}


def codes_shown(driver: webdriver.Chrome, codes: set[str]) -> list[tuple[str, str]]:
    """(code, the text it is in) of every catalogue code shown as a word of visible text."""
    texts: list[str] = driver.execute_script(VISIBLE_TEXT)
    return [(word, text) for text in texts for word in WORD.findall(text) if word in codes]


def visible_texts(driver: webdriver.Chrome) -> list[list[Any]]:
    """[text, font px, tag, top, left] of every text node shown inside the viewport."""
    return driver.execute_script(TEXTS_IN_VIEW)


def small_texts(driver: webdriver.Chrome, min_px: float = WALL_MIN_PX) -> list[list[Any]]:
    return [t for t in visible_texts(driver) if t[1] < min_px]


def clipped_texts(driver: webdriver.Chrome) -> list[str]:
    """Every visible text cut off by a box that hides its overflow: the text, its top-bottom, the box."""
    return driver.execute_script(CLIPPED)


def buttons_off_screen(driver: webdriver.Chrome, width: int) -> list[Any]:
    return [b for b in driver.execute_script(BUTTONS) if b[1] < 0 or b[2] > width or b[3] <= 0]


def outside_viewport(driver: webdriver.Chrome, width: int) -> list[Any]:
    """Everything a person on a screen `width` px wide cannot reach without scrolling the page sideways."""
    out: list[Any] = list(driver.execute_script(BEYOND)) + buttons_off_screen(driver, width)
    page = driver.execute_script("return document.documentElement.scrollWidth")
    if page > width:
        out.append(f"the page is {page} px wide")
    return out

"""What the attendance machines add to the built-in pages: on the wall, each window's post, who is
on it (in public mode the name from the staff registry, masked) and the posts left empty
(posts.js); on the manager page, a day's attendance per person (first in, last out, late, early
leave, missing punches) and its export (daily.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment("posts", HERE / "posts.js", routes={"posts": "GET /api/v1/attendance/posts"}, needs=("posts",)),
    "manager": Fragment(
        "daily",
        HERE / "daily.js",
        routes={"daily": "GET /api/v1/attendance/daily", "export": "GET /api/v1/attendance/daily/export"},
        needs=("daily",),
    ),
}

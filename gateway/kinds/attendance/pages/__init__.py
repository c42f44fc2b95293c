"""What the attendance machines add to the built-in pages: on the wall, each window's post, who is
on it (in public mode the name from the staff registry, masked) and the posts left empty (posts.js)."""

from __future__ import annotations

from pathlib import Path

from gateway.kinds.base import Fragment

HERE = Path(__file__).parent

PAGES = {
    "wall": Fragment("posts", HERE / "posts.js", routes={"posts": "GET /api/v1/attendance/posts"}, needs=("posts",)),
}

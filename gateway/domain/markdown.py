"""Text put into a work group's markdown (钉钉 / 企业微信 robots) or a header line (an e-mail's
subject): a name, a department or a window as a person typed it, or the hall's name. Pure.

`one_line`: no line break or other control character (one in a hall's name would forge an e-mail
header, or end a markdown line and start a heading). `plain`: one line, and its markdown signs,
`<@...>` mentions and `@` as their full-width forms, so it shows as typed and links or notifies
nobody (`[点我](http://...)`, `**`, `<@all>`, `@所有人`)."""

from __future__ import annotations

import re

_BREAKS = re.compile("[\x00-\x1f\x7f\u2028\u2029]+")
_MARKUP = str.maketrans("*_[]()#`<>@!|~\\", "＊＿［］（）＃｀＜＞＠！｜～＼")


def one_line(text: str) -> str:
    return _BREAKS.sub(" ", text).strip()


def plain(text: str) -> str:
    return one_line(text).translate(_MARKUP)

"""What people add to the discipline ledger (巡查): the kinds a person records, what a photo's
first bytes say it is, and the 整改通知单's state. Pure: no file, clock or database here.

A person records any of the four kinds and 其他; 串岗聊天 (`chat`) no device sees, so only a person
records it. The contract names kinds in Chinese; the ledger keeps codes (gateway/domain/discipline.py).
"""

from __future__ import annotations

RECORDED: dict[str, str] = {
    "工作准备不到位": "unready",
    "工作时间离岗超时": "away",
    "串岗聊天": "chat",
    "违规使用手机": "phone",
    "其他": "other",
}
CODES = tuple(RECORDED.values())

PHOTO_MAX_BYTES = 2 * 1024 * 1024  # the brief's 2 MB
PHOTO_MAX_PIXELS = 40_000_000  # a phone camera's 12-50 MP; past this a small file is a decompression bomb

# Magic bytes: the two a photo may be, and the other images a phone or a PC may send (refused as
# the wrong type rather than "not an image", so the person knows to convert it).
ALLOWED = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png"}
OTHERS = {
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"\x00\x00\x01\x00": "ico",
}


def kind_of(text: str) -> str | None:
    """A recorded kind's code from its Chinese name (the contract's) or its code; None if neither."""
    t = text.strip()
    return RECORDED.get(t) or (t if t in CODES else None)


def sniff(head: bytes) -> tuple[str, bool]:
    """What the first bytes say a file is, and whether a photo may be that: ("jpeg", True),
    ("gif", False), ("", False) for no image known."""
    for magic, name in ALLOWED.items():
        if head.startswith(magic):
            return name, True
    for magic, name in OTHERS.items():
        if head.startswith(magic):
            return name, False
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", False
    if head[4:8] == b"ftyp":  # HEIC/HEIF/AVIF: an iPhone's default
        return "heic", False
    return "", False


# -- 整改通知单 ------------------------------------------------------------------------------------

NOTICE_STATES = ("open", "overdue", "acknowledged")


def notice_state(deadline_ns: int, acked_ns: int | None, now_ns: int) -> str:
    """`acknowledged` once the person signed it (late or not), else `overdue` past the deadline."""
    if acked_ns is not None:
        return "acknowledged"
    return "overdue" if now_ns >= deadline_ns else "open"


def may_acknowledge(role: str, actor: str, staff: str) -> bool:
    """Only the person the notice is for signs it: a staff token or account named by their staff id.
    (A manager signing for them would defeat what the signature says: that they read it.)"""
    return role == "staff" and actor == staff

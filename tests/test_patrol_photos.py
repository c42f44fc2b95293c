"""The photo check alone (gateway/features/discipline/photos.py) and the pure rules of the people's
side (gateway/domain/patrol.py): what the bytes say, a decompression bomb refused before it is
decoded, the camera's orientation kept while its EXIF goes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from gateway.domain import patrol as p
from gateway.features.discipline.photos import Refused, clean


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "said"),
    [
        (b"\xff\xd8\xff\xe0", ("jpeg", True)),
        (b"\x89PNG\r\n\x1a\n\0\0", ("png", True)),
        (b"GIF89a", ("gif", False)),
        (b"RIFF\0\0\0\0WEBPVP8 ", ("webp", False)),
        (b"\0\0\0\x18ftypheic", ("heic", False)),
        (b"%PDF-1.7", ("", False)),
    ],
)
def test_the_first_bytes_say_what_it_is(head: bytes, said: tuple[str, bool]) -> None:
    assert p.sniff(head) == said


def test_kinds_by_their_chinese_names_or_codes() -> None:
    assert [p.kind_of(k) for k in ("串岗聊天", " 其他 ", "phone", "睡觉")] == ["chat", "other", "phone", None]


def test_a_notice_is_overdue_past_its_deadline_until_signed() -> None:
    assert p.notice_state(100, None, 99) == "open"
    assert p.notice_state(100, None, 100) == "overdue"
    assert p.notice_state(100, 150, 200) == "acknowledged"
    assert p.may_acknowledge("staff", "S0001", "S0001")
    assert not p.may_acknowledge("staff", "S0002", "S0001")
    assert not p.may_acknowledge("manager", "S0001", "S0001")  # a manager named like the person


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    """48 megapixels in a few kilobytes: past the pixel bound, refused from its header."""
    bomb = _save(Image.new("1", (8000, 6000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(Refused) as e:
        clean(bomb)
    assert (e.value.status, e.value.code) == (415, "photo_not_image") and "pixels" in e.value.detail


def test_the_orientation_is_applied_and_the_exif_dropped() -> None:
    """A phone's portrait photo is landscape pixels with Orientation 6 (rotate 90°): stored upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SpyCam Maker"
    photo = clean(_save(Image.new("RGB", (60, 20), (0, 0, 255)), "JPEG", exif=exif.tobytes()))
    with Image.open(io.BytesIO(photo.data)) as img:
        assert (img.size, dict(img.getexif())) == ((20, 60), {})
    assert b"SpyCam" not in photo.data


def test_exactly_2_mb_is_looked_at_and_one_byte_more_is_not() -> None:
    with pytest.raises(Refused) as e:
        clean(b"\xff\xd8\xff" + b"\0" * (p.PHOTO_MAX_BYTES - 3))
    assert e.value.code == "photo_not_image"  # within the size: decoded, and not a JPEG
    with pytest.raises(Refused) as e:
        clean(b"\xff\xd8\xff" + b"\0" * (p.PHOTO_MAX_BYTES - 2))
    assert (e.value.status, e.value.code) == (413, "photo_too_large")

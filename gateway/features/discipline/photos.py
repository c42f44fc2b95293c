"""A patrol record's photo: checked by its content, saved again without its metadata, kept on
disk under the state directory by its SHA-256 (the ledger holds the digest).

The first bytes say what it is (gateway/domain/patrol.py `sniff`): JPEG or PNG pass, another image
is the wrong type, anything else is not an image. A JPEG or PNG is then decoded in full with Pillow
(a truncated or forged file fails there), its pixel count bounded first (a small file that
unpacks to gigabytes is refused before decoding), and encoded again: what is stored holds the
pixels only, no EXIF (GPS position, camera, owner), no PNG text chunks. The camera's orientation
is applied to the pixels first, so the picture still stands upright.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.domain import patrol as p

FORMATS = {"jpeg": "JPEG", "png": "PNG"}
MEDIA = {"jpeg": "image/jpeg", "png": "image/png"}


class Refused(ValueError):
    """A refusal of the people's side of the ledger (a photo here, a step in rounds.py): HTTP
    status, catalogue code, English detail, the Chinese message's specifics."""

    def __init__(self, status: int, code: str, detail: str, **params: object) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.params = status, code, detail, params


@dataclass(frozen=True, slots=True)
class Clean:
    kind: str  # jpeg, png
    data: bytes  # the pixels encoded again, without metadata
    digest: str  # SHA-256 of `data`


def clean(data: bytes) -> Clean:
    """The photo as it is stored; raises Refused (413 too big, 415 not a JPEG or PNG)."""
    if len(data) > p.PHOTO_MAX_BYTES:
        raise Refused(
            413, "photo_too_large", f"{len(data)} bytes, at most {p.PHOTO_MAX_BYTES}", limit=p.PHOTO_MAX_BYTES
        )
    kind, allowed = p.sniff(data[:16])
    if not allowed:
        if kind:
            raise Refused(415, "photo_type", f"a {kind} image: only JPEG and PNG", type=kind.upper())
        raise Refused(415, "photo_not_image", "neither JPEG nor PNG by its content")
    # Pillow imported here, not at start: every gateway process would carry it for a rare upload.
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data), formats=[FORMATS[kind]]) as img:
            w, h = img.size
            if w * h > p.PHOTO_MAX_PIXELS:
                raise Refused(415, "photo_not_image", f"{w}x{h} pixels, at most {p.PHOTO_MAX_PIXELS}")
            img.load()  # the whole decode: a truncated file fails here
            upright = ImageOps.exif_transpose(img)
            out = io.BytesIO()
            if kind == "jpeg":
                rgb = upright if upright.mode in ("RGB", "L") else upright.convert("RGB")
                rgb.save(out, "JPEG", quality=90)  # no exif= given: none is written
            else:
                upright.save(out, "PNG")  # no pnginfo: text and eXIf chunks are not written
    except Refused:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise Refused(415, "photo_not_image", f"not a readable {kind.upper()}: {e}") from None
    stored = out.getvalue()
    return Clean(kind, stored, hashlib.sha256(stored).hexdigest())


EXT = {"jpeg": "jpg", "png": "png"}


class Shelf:
    """The photos' folder: one file a digest (`<sha256>.jpg|png`), written whole or not at all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str, kind: str) -> Path:
        return self.folder / f"{digest}.{EXT[kind]}"

    def put(self, photo: Clean) -> Path:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.path(photo.digest, photo.kind)
        if final.exists():
            return final  # the same pixels: the same file
        tmp = final.with_suffix(".part")
        with open(tmp, "wb") as f:
            f.write(photo.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return final

    def get(self, digest: str, kind: str) -> bytes | None:
        """The file, if it is there and still what the ledger says (its digest)."""
        try:
            data = self.path(digest, kind).read_bytes()
        except FileNotFoundError:
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None

"""Photos: check each photo an article uses and decide where it is published. The only module importing Pillow.

Probing reads just the image header (cheap), so templates can give every <img> its width and height and the
page does not jump while photos load. Formats are recognised by content, never by file extension.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


@dataclass(frozen=True)
class ImageInfo:
    """A published photo: site-relative URL path and its pixel size (after EXIF rotation)."""

    url: str
    width: int
    height: int


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    format: str


class ImageProblem(Exception):
    def __init__(self, code: str, message: str, hint: str):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


_EXIF_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}


def probe(path: Path, max_pixels: int) -> Probe:
    """Size and format from the header; raises ImageProblem for anything unsafe or unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = im.format or ""
                w, h = im.size
                if fmt not in ALLOWED_FORMATS:
                    raise ImageProblem("IMG005", f"định dạng {fmt or 'lạ'} không được phép cho ảnh trên trang",
                                       "lưu ảnh dạng JPEG, PNG hoặc WebP")
                if w * h > max_pixels:
                    raise ImageProblem("IMG004", f"ảnh {w}×{h} điểm ảnh, vượt giới hạn {max_pixels:,} điểm ảnh",
                                       "thu nhỏ ảnh trước khi đưa lên (ví dụ cạnh dài 3000 điểm ảnh)")
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
                if orientation in _ROTATED:
                    w, h = h, w
                return Probe(w, h, fmt)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem("IMG004", "ảnh quá lớn, có thể là bom giải nén", "thu nhỏ ảnh trước khi đưa lên") from None
    except UnidentifiedImageError:
        raise ImageProblem("IMG005", "tệp không phải ảnh mà trình duyệt hiển thị được",
                           "lưu ảnh dạng JPEG, PNG hoặc WebP") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem("IMG003", f"ảnh hỏng hoặc không đọc được ({exc})", "xuất lại ảnh từ máy ảnh hoặc phần mềm sửa ảnh") from None

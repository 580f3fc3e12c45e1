"""Photos with Pillow: probe headers, and produce the responsive variants pages use, through a content-addressed
cache. The only module importing Pillow.

Probing reads just the image header (cheap), so the plan knows every variant's size before any pixel is decoded.
Formats are recognised by content, never by file extension. Producing decodes each photo once (JPEG draft mode
lets libjpeg decode at 1/2, 1/4 or 1/8 scale when that is still large enough), applies the EXIF orientation,
converts to RGB(A) keeping colours right, and encodes every missing width as JPEG and WebP with no metadata
(camera files carry GPS). Variants live in `<site>/.sitegen/cache/img/`, keyed by the photo's sha256, width,
format, quality and Pillow version, so an unchanged photo is never processed twice, across builds and articles.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, Iterable

import PIL  # (its version alone: the decoders, a tenth of a one-article edit's start-up, are imported where
from PIL import UnidentifiedImageError  # photos are opened, see _pil)

from ..pickling import by_fields

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
JPEG_MAX_SIDE = 65_535  # the format stores sizes in 16 bits
WEBP_MAX_SIDE = 16_383  # 14 bits: a longer photo gets JPEG variants only
OG_SIZE = (1200, 630)  # the social card size Facebook, Zalo and X crop to
_EXIF_ORIENTATION = 0x0112
_ROTATED = {5, 6, 7, 8}
# EXIF orientation -> the turn that makes the photo upright (PIL.Image.Transpose's names, see _decode).
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}
_INDEX_NAME = "sources.json"
_PROGRESS_MIN = 50  # fewer photos than this finish before a progress line would help
_PROGRESS_EVERY = 2.0


@by_fields
@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A published photo as pages use it: root-relative URLs of its variants and their pixel sizes."""

    url: str  # the <img src> fallback: the 960 px JPEG, else the largest
    width: int  # of the largest variant (after EXIF rotation): the width/height attributes
    height: int
    srcset: str = ""  # JPEG variants, "url 480w, url 960w"
    webp_srcset: str = ""
    full: str = ""  # the largest JPEG: where a gallery thumbnail links without JavaScript
    og: str = ""  # the 1200x630 social card, featured photos only
    og_width: int = 0
    og_height: int = 0


@dataclass(frozen=True)
class Probe:
    width: int  # after EXIF rotation
    height: int
    format: str


class ImageProblem(Exception):
    def __init__(self, code: str, message: str, hint: str):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


STORAGE = "WRITE002"  # the code of a problem that is the disk's, not the photo's: it fails the build


class _StorageProblem(Exception):
    def __init__(self, out: str, exc: OSError):
        super().__init__(out)
        self.out, self.exc = out, exc


@dataclass(frozen=True)
class Variant:
    """One output of a photo: a width (0 for the social card) in one format, at an exact pixel size."""

    kind: str  # "jpg", "webp" or "og"
    width: int
    height: int

    @property
    def ext(self) -> str:
        return "webp" if self.kind == "webp" else "jpg"


def variant_sizes(width: int, height: int, widths: Iterable[int]) -> list[tuple[int, int]]:
    """(w, h) of each responsive width for a photo of this size, never upscaled: widths above the photo's own
    width collapse into one variant at its own width."""
    out: list[tuple[int, int]] = []
    for w in sorted(set(widths)):
        tw = min(w, width)
        size = (tw, max(1, round(height * tw / width)))
        if size not in out:
            out.append(size)
    return out


def og_size(width: int, height: int) -> tuple[int, int]:
    """The social card's size: 1200x630, or the largest 1200:630 box inside a smaller photo (no upscaling)."""
    ow, oh = OG_SIZE
    if width >= ow and height >= oh:
        return OG_SIZE
    if width * oh > height * ow:
        return max(1, round(height * ow / oh)), height
    return width, max(1, round(width * oh / ow))


# --- probing ---------------------------------------------------------------------------------------------


def probe(path: Path, max_pixels: int) -> Probe:
    """Size and format from the header; raises ImageProblem for anything unsafe or unreadable."""
    Image = _pil()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return _check_header(im, max_pixels)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(0, 0, max_pixels) from None
    except UnidentifiedImageError:
        raise ImageProblem("IMG005", "tệp không phải ảnh mà trình duyệt hiển thị được",
                           "lưu ảnh dạng JPEG, PNG hoặc WebP") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(exc) from None


def _check_header(im: Image.Image, max_pixels: int) -> Probe:
    fmt = im.format or ""
    w, h = im.size
    if fmt not in ALLOWED_FORMATS:
        raise ImageProblem("IMG005", f"định dạng {fmt or 'lạ'} không được phép cho ảnh trên trang",
                           "lưu ảnh dạng JPEG, PNG hoặc WebP")
    if w * h > max_pixels:
        raise _bomb(w, h, max_pixels)
    if max(w, h) > JPEG_MAX_SIDE:  # a 1×70 000 strip is few pixels, but no JPEG can hold it
        limit = f"{JPEG_MAX_SIDE:,}".replace(",", ".")  # Vietnamese groups thousands with dots
        raise ImageProblem("IMG004", f"ảnh {w}×{h} điểm ảnh có cạnh dài hơn {limit} điểm ảnh, giới hạn của JPEG",
                           "cắt ảnh thành nhiều ảnh hoặc thu nhỏ trước khi đưa lên")
    if _orientation(im) in _ROTATED:
        w, h = h, w
    return Probe(w, h, fmt)


def _orientation(im: Image.Image) -> int:
    if im.format not in ("JPEG", "WEBP", "PNG"):
        return 1
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block must not lose the photo: it just stays unrotated
        return 1
    return value if isinstance(value, int) else 1


def _bomb(w: int, h: int, max_pixels: int) -> ImageProblem:
    size = f"ảnh {w}×{h} điểm ảnh, " if w else "ảnh "
    limit = f"{max_pixels:,}".replace(",", ".")  # Vietnamese groups thousands with dots
    return ImageProblem("IMG004", f"{size}vượt giới hạn {limit} điểm ảnh (nghi bom giải nén)",
                        "thu nhỏ ảnh trước khi đưa lên (ví dụ cạnh dài 3000 điểm ảnh), hoặc tăng max_image_pixels")


def _corrupt(exc: BaseException) -> ImageProblem:
    if "truncated" in str(exc):  # the usual cause: a copy from the camera card or a download cut short
        return ImageProblem("IMG003", "ảnh bị cắt cụt (tệp chưa được chép hết)",
                            "chép lại ảnh từ thẻ nhớ hoặc máy ảnh rồi dựng lại")
    return ImageProblem("IMG003", f"ảnh hỏng hoặc không đọc được ({exc})",
                        "xuất lại ảnh từ máy ảnh hoặc phần mềm sửa ảnh rồi chép lại")


# --- sources: content hash and probe, remembered by file stat ---------------------------------------------


@dataclass(frozen=True)
class Source:
    path: Path
    digest: str  # sha256 of the file's bytes: the cache key
    probe: Probe


class SourceIndex:
    """sha256 and header of each photo file, remembered across builds by (size, mtime, ctime, inode) so a warm
    build neither rereads 10 MB camera files nor reopens their headers. Like git's index: a file whose stat did
    not change is taken to be unchanged."""

    def __init__(self, cache_dir: Path):
        self.path = cache_dir / _INDEX_NAME
        self._old: dict[str, list] = {}
        self._new: dict[str, list] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("pillow") == PIL.__version__:
                self._old = data.get("files", {})
        except (OSError, ValueError, AttributeError):
            pass  # no index, or a damaged one: everything is rehashed

    def source(self, path: Path, max_pixels: int) -> Source:
        """Raises ImageProblem when the file cannot be published."""
        key = str(path)
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = self._new.get(key) or self._old.get(key)
        if entry and entry[:4] == stamp:
            w, h, fmt = entry[5], entry[6], entry[7]
            if w * h > max_pixels:  # only good photos are remembered, but the limit may have been lowered
                raise _bomb(w, h, max_pixels)
            self._new[key] = entry
            return Source(path, entry[4], Probe(w, h, fmt))
        found = probe(path, max_pixels)
        digest = _file_digest(path)
        self._new[key] = [*stamp, digest, found.width, found.height, found.format]
        return Source(path, digest, found)

    def save(self) -> None:
        if self._new == self._old:
            return
        try:
            _atomic_write(self.path, json.dumps({"pillow": PIL.__version__, "files": self._new}).encode())
        except OSError:
            pass  # an index not saved costs the next build a rehash, nothing else; a full disk is named by `produce`


def _file_digest(path: Path) -> str:
    h = sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# --- producing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Everything one source photo must yield."""

    source: Source
    variants: tuple[Variant, ...]


@dataclass
class Produced:
    files: dict[tuple[str, Variant], Path]  # (digest, variant) -> cache file
    problems: dict[str, ImageProblem]  # digest -> why that photo could not be produced
    processed: int = 0  # photos decoded this run (0 on a warm build)
    variants_made: int = 0


def cache_path(cache_dir: Path, digest: str, v: Variant, quality: int) -> Path:
    name = f"og{v.width}x{v.height}" if v.kind == "og" else str(v.width)
    return cache_dir / digest[:2] / f"{digest[2:]}-{name}-q{quality}-p{PIL.__version__}.{v.ext}"


def produce(requests: list[Request], cache_dir: Path, quality: int, max_pixels: int,
            workers: int | None = None) -> Produced:
    """Make every requested variant missing from the cache, in parallel worker processes; returns where each
    variant is and which photos failed. A photo whose variants are all cached is not even opened."""
    files: dict[tuple[str, Variant], Path] = {}
    jobs: list[tuple] = []
    seen: set[str] = set()
    for req in requests:
        digest = req.source.digest
        if digest in seen:  # the same bytes used twice (two articles, two names): one job
            continue
        seen.add(digest)
        missing = []
        for v in req.variants:
            path = cache_path(cache_dir, digest, v, quality)
            files[(digest, v)] = path
            if not _cached_ok(path, v):
                missing.append((v.kind, v.width, v.height, str(path)))
        if missing:
            jobs.append((digest, str(req.source.path), req.source.probe.width, req.source.probe.height,
                         tuple(missing), quality, max_pixels))
    result = Produced(files, {})
    if not jobs:
        return result
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    progress = _Progress(len(jobs)) if len(jobs) > _PROGRESS_MIN else None
    if workers == 1:
        _collect(map(_make, jobs), result, progress)
    else:
        # A few photos per task keeps the pool busy without one worker holding the last slow ones.
        chunk = max(2, min(8, len(jobs) // (workers * 4)))
        # Forked like workers.py's pools: nothing to pickle but the small job tuples, and no re-import.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            _collect(pool.map(_make, jobs, chunksize=chunk), result, progress)
    if progress:
        progress.done()
    return result


def _collect(outcomes: Iterable, result: Produced, progress: "_Progress | None") -> None:
    for digest, made, problem in outcomes:
        result.processed += 1
        result.variants_made += made
        if problem is not None:
            result.problems[digest] = ImageProblem(*problem)
        if progress:
            progress.step()


def _cached_ok(path: Path, v: Variant) -> bool:
    """A cheap check that a cache entry is whole (writes are atomic, so only outside damage breaks one):
    the format's signature at the start and, for JPEG, the end marker; for WebP the RIFF length."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 12, 0)
        if v.ext == "jpg":
            return size > 4 and head[:2] == b"\xff\xd8" and os.pread(fd, 2, size - 2) == b"\xff\xd9"
        return (len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"
                and int.from_bytes(head[4:8], "little") + 8 == size)
    finally:
        os.close(fd)


class _Progress:
    """A line on stderr every few seconds on long runs, so nobody kills a build that is just busy."""

    def __init__(self, total: int):
        self.total, self.count = total, 0
        self.start = self.last = time.monotonic()

    def step(self) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY:
            self.last = now
            rate = self.count / (now - self.start)
            print(f"Ảnh: đã xử lý {self.count}/{self.total} ({rate:.1f} ảnh/giây)", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.last != self.start:
            print(f"Ảnh: xong {self.count}/{self.total} trong {time.monotonic() - self.start:.1f} giây",
                  file=sys.stderr, flush=True)


def _make(job: tuple) -> tuple[str, int, tuple[str, str, str] | None]:
    """Worker: decode one photo once and write its missing variants into the cache. Returns (digest, variants
    written, problem). Every variant is written only after the whole photo decoded, and each by temp file and
    rename, so a truncated photo or a killed build leaves no partial variant behind."""
    digest, path, width, height, missing, quality, max_pixels = job
    Image = _pil()
    try:
        base, icc = _decode(Path(path), width, height, missing, max_pixels)
        made = 0
        prev = base
        for kind, w, h, out in sorted(missing, key=lambda m: (m[0] == "og", -m[1])):
            if kind == "og":
                from PIL import ImageOps
                img = ImageOps.fit(base, (w, h), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
            elif (w, h) == prev.size:
                img = prev
            else:
                # Cascading from the last, larger variant costs far less than going back to the full image.
                src = prev if prev.width >= w and prev.height >= h else base
                img = src.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
                prev = img
            data = _encode(img, "WEBP" if kind == "webp" else "JPEG", quality, icc)
            try:
                _atomic_write(Path(out), data)
            except OSError as exc:  # the disk, not the photo: never reported as a broken photo
                raise _StorageProblem(out, exc) from None
            made += 1
        return digest, made, None
    except _StorageProblem as problem:
        return digest, 0, (STORAGE, f"không ghi được ảnh thu nhỏ vào {problem.out}: "
                                    f"{problem.exc.strerror or problem.exc}",
                           "giải phóng dung lượng ổ đĩa (hoặc cấp quyền ghi cho .sitegen/cache) rồi dựng lại")
    except ImageProblem as problem:
        return digest, 0, (problem.code, problem.message, problem.hint)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        p = _bomb(0, 0, max_pixels)
        return digest, 0, (p.code, p.message, p.hint)
    except UnidentifiedImageError:
        return digest, 0, ("IMG005", "tệp không phải ảnh mà trình duyệt hiển thị được", "lưu ảnh dạng JPEG, PNG hoặc WebP")
    except Exception as exc:  # any other decoder failure is still one bad photo, not a failed build
        p = _corrupt(exc)
        return digest, 0, (p.code, p.message, p.hint)


def _decode(path: Path, width: int, height: int, missing: tuple, max_pixels: int) -> tuple[Image.Image, bytes | None]:
    """The photo, upright, in RGB or RGBA, at least as large as every missing variant needs."""
    # ImageFile.LOAD_TRUNCATED_IMAGES stays False: a truncated JPEG must fail here, not publish grey stripes.
    Image = _pil()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            _check_header(im, max_pixels)
            orientation = _orientation(im)  # read as `probe` read it, so sizes match the plan's
            rotated = orientation in _ROTATED
            scale = 0.0
            for kind, w, h, _out in missing:
                if kind == "og":
                    scale = max(scale, w / width, h / height)
                else:
                    scale = max(scale, w / width)
            if im.format == "JPEG" and scale < 1:
                need = (math.ceil(width * scale), math.ceil(height * scale))
                im.draft(im.mode if im.mode in ("RGB", "L") else None, need[::-1] if rotated else need)
            im.load()
            icc = im.info.get("icc_profile") or None
            # What ImageOps.exif_transpose does, from the orientation read before decoding (a PNG's eXIf chunk
            # may follow the pixels and would otherwise turn the photo after its sizes were planned).
            method = _TRANSPOSE.get(orientation)
            upright = im.transpose(Image.Transpose[method]) if method is not None else im.copy()
    return _to_rgb(upright, icc)


def _to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """RGB or RGBA for the encoders; the ICC profile to embed (an RGB one only), colours converted otherwise."""
    mode = im.mode
    if mode == "CMYK":
        from PIL import ImageCms
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                out = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
                return _bare(out), None
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass
        return _bare(im.convert("RGB")), None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
        mode = "L"
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
    elif mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    if im.mode == "RGBA" and im.getextrema()[3][0] == 255:
        im = im.convert("RGB")  # fully opaque: no alpha channel to carry
    keep = icc if icc and _icc_space(icc) == "RGB" else None
    return _bare(im), keep


def _icc_space(icc: bytes) -> str:
    return icc[16:20].decode("ascii", "replace").strip() if len(icc) >= 20 else ""


def _bare(im: Image.Image) -> Image.Image:
    """Drop every metadata block (EXIF with GPS, XMP, comments) so no encoder copies it into a variant."""
    im.info = {}
    return im


def _encode(im: Image.Image, fmt: str, quality: int, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if im.mode == "RGBA":  # JPEG has no transparency: flatten onto the page's white
            flat = _pil().new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        # Progressive: on a slow phone connection the whole photo appears blurred first, then sharpens.
        im.save(buf, "JPEG", quality=quality, progressive=True, **extra)
    else:
        im.save(buf, "WEBP", quality=quality, **extra)
    return buf.getvalue()


def _pil() -> Any:
    """PIL.Image, imported on the first photo opened: a build that opens none (an edit of an article without
    new photos) does without it."""
    from PIL import Image
    return Image


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file and rename: a reader (or the next build) sees the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""Which photos each article uses (front matter and body), whether they are usable, and where each is published.

Every photo is published as responsive variants beside its article, `<article-url>/<slug-of-stem>-<w>.webp|.jpg`,
plus `<stem>-og.jpg` (the social card) for the featured photo; the camera original is not published (it is
large and carries GPS). `plan` reads only headers, so it knows every URL and size before anything is decoded;
`produce` has images.py make what the cache lacks and drops, with a warning naming the article and the photo,
any photo that turns out unusable, so one bad file never stops the rest of the site. Each photo file is looked
at once per build even when several articles use it.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..config import SiteConfig
from ..diagnostics import BuildFailed, Reporter
from .images import (STORAGE, WEBP_MAX_SIDE, ImageInfo, ImageProblem, Request, Source, SourceIndex, Variant, og_size,
                     produce as _produce, variant_sizes)
from ..content.model import Article, resolve_photo
from ..content.slugs import slugify

_DEFAULT_SRC_WIDTH = 960  # the <img src> for browsers without srcset


@dataclass(frozen=True)
class PhotoPlan:
    infos: tuple[dict[str, ImageInfo | None], ...]  # per article: src as written -> photo (None: left out)
    copies: tuple[tuple[Path, str], ...] = ()  # (cache file, output path) to publish; filled by `produce`
    requests: tuple[Request, ...] = ()  # what each distinct photo must yield
    outputs: tuple[tuple[str, Variant, str], ...] = ()  # (photo digest, variant, output path)
    uses: dict[str, tuple[tuple[int, str, int, str], ...]] = field(default_factory=dict)  # digest -> (article
    # index, article file, line, src) of every use, to name them all when the photo fails
    published: tuple[tuple[Path, str, int, tuple[str, ...]], ...] = ()  # (photo file, output path of its largest
    # JPEG, article index, endings of its variants) for each article that publishes the photo, in article order: a
    # link to the photo file leads to the first's copy (see links.Index), to another's once that article is gone
    # (ahead: expired by then). Every variant of a copy is a file too, which a body may link to by its address: the
    # largest JPEG's path up to its last '-', then '-' and the variant's ending (`_output_name`: '960.webp', 'og.jpg')
    processed: int = 0  # photos decoded by `produce` (0 when everything came from the cache)
    folder: Path | None = None  # where variants are made: the image cache, or `scratch` when it cannot be written
    scratch: tempfile.TemporaryDirectory | None = field(default=None, compare=False, repr=False)  # removed with the
    # plan, once the build has published (linked or copied) what it made there


def cache_dir(config: SiteConfig) -> Path:
    return config.root / ".sitegen" / "cache" / "img"


def _writable_cache(config: SiteConfig, report: Reporter) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """The image cache, or a temporary folder for this build when the cache cannot be written (a read-only
    `.sitegen/cache`): the cache only saves time, so the build goes on without it, and says so."""
    folder = cache_dir(config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder, None
        reason = "thư mục chỉ đọc"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    scratch = tempfile.TemporaryDirectory(prefix="sitegen-img-")
    report.warning("CACHE001", ".sitegen/cache/img", 0,
                   f"không ghi được bộ nhớ đệm ảnh ({reason}): ảnh thu nhỏ được làm lại trong thư mục tạm ở mỗi lần dựng",
                   "cấp quyền ghi cho .sitegen/cache (hoặc xóa thư mục đó để sitegen tạo lại)")
    return Path(scratch.name), scratch


def plan(articles: tuple[Article, ...], urls: list[str], config: SiteConfig, report: Reporter) -> PhotoPlan:
    """Look at every photo the articles use; `urls` are the articles' site-relative URLs."""
    if not any(a.image or a.photos or a.body_images for a in articles):
        return PhotoPlan(tuple({} for _ in articles))
    made_in, scratch = _writable_cache(config, report)
    index = SourceIndex(made_in)
    sources: dict[Path, Source | ImageProblem] = {}
    infos: list[dict[str, ImageInfo | None]] = []
    wanted: dict[str, tuple[Source, set[Variant]]] = {}
    outputs: dict[str, tuple[str, Variant]] = {}
    published: dict[tuple[Path, int], tuple[str, set[str]]] = {}  # (file, article) -> largest JPEG, endings
    uses: dict[str, list[tuple[int, str, int, str]]] = {}
    for i, (article, url) in enumerate(zip(articles, urls)):
        refs: list[tuple[str, Path | None, int]] = []
        for src, found, line in _refs(article, config):
            if isinstance(found, str):  # a body photo (the front matter's are checked with the front matter)
                report.error("IMG002" if found == "escape" else "IMG001", article.source, line,
                             f"ảnh '{src}' nằm ngoài thư mục content/" if found == "escape"
                             else f"không tìm thấy ảnh '{src}' bên cạnh bài viết",
                             "đặt ảnh vào cùng thư mục với index.md và ghi đúng tên tệp")
                continue
            refs.append((src, found, line))
        featured = article.image.src if article.image else (article.photos[0].src if article.photos else None)
        mine: dict[str, ImageInfo | None] = {}
        names: dict[str, Path] = {}
        folder = photo_folder(url)
        for src, file, line in refs:
            if src in mine or file is None:
                continue
            if file not in sources:
                try:
                    sources[file] = index.source(file, config.max_image_pixels)
                except ImageProblem as problem:
                    sources[file] = problem
                except OSError as exc:
                    sources[file] = ImageProblem("IMG003", f"không đọc được tệp ảnh ({exc.strerror})",
                                                 "kiểm tra quyền đọc của tệp")
            found = sources[file]
            if isinstance(found, ImageProblem):
                _warn(report, article.source, line, src, found)
                mine[src] = None
                continue
            stem = folder + _public_name(file, names)
            variants = _variants(found, config.image_widths, src == featured)
            wanted.setdefault(found.digest, (found, set()))[1].update(variants)
            uses.setdefault(found.digest, []).append((i, article.source, line, src))
            for v in variants:
                outputs[_output_name(stem, v)] = (found.digest, v)
            mine[src] = _info(config.base_path + stem, variants)
            largest = _output_name(stem, [v for v in variants if v.kind == "jpg"][-1])
            published.setdefault((file, i), (largest, set()))[1].update(map(_ending, variants))  # (featured: og)
        infos.append(mine)
    index.save()
    requests = tuple(Request(s, tuple(sorted(vs, key=lambda v: (v.kind, v.width)))) for s, vs in wanted.values())
    return PhotoPlan(tuple(infos), (), requests, tuple((d, v, out) for out, (d, v) in sorted(outputs.items())),
                     {d: tuple(u) for d, u in uses.items()}, _copies(published),
                     folder=made_in, scratch=scratch)


def photo_folder(url: str) -> str:
    """Where an article's photo variants are published: its page's folder ('thoi-su/hoi-nghi/'). A permalink
    that names a file ('{year}/{slug}.html') puts many articles in one folder, where two photos called anh.jpg
    would be published as one file, one article showing the other's photo: there, a folder of the page's name
    ('2024/hoi-nghi.html' -> '2024/hoi-nghi/'; '2024/hoi-nghi' -> '2024/hoi-nghi_anh/', beside that file and
    named as no slug can be)."""
    if url == "" or url.endswith("/"):
        return url
    stem, ext = posixpath.splitext(url)
    return (stem if ext else url + "_anh") + "/"


def files_of(article: Article, config: SiteConfig) -> list[Path]:
    """The photo files `article` shows, as `plan` finds them."""
    return [found for found in refs_of(article, config) if isinstance(found, Path)]


def refs_of(article: Article, config: SiteConfig) -> list[Path | str | None]:
    """The file of every photo `article` shows, as `_refs` finds it (None: remote; a text: not publishable)."""
    return [found for _, found, _ in _refs(article, config)]


def _refs(article: Article, config: SiteConfig) -> list[tuple[str, Path | str | None, int]]:
    """(src as written, its file, line) of every photo `article` shows, the front matter's first; the file is None
    for a remote one, 'escape' or 'missing' for a body photo that cannot be published (resolve_photo)."""
    refs: list[tuple[str, Path | str | None, int]] = [
        (ref.src, ref.file, ref.line) for ref in ([article.image] if article.image else []) + list(article.photos)]
    return refs + [(src, resolve_photo(src, article.folder, config.content_dir), line)
                   for src, _caption, line in article.body_images]


def produce(photo_plan: PhotoPlan, config: SiteConfig, report: Reporter, workers: int | None = None) -> PhotoPlan:
    """Make the variants the cache lacks (in `workers` processes, default one per core); the plan comes back with
    what to publish and failed photos left out."""
    if not photo_plan.requests:
        return photo_plan
    done = _produce(list(photo_plan.requests), photo_plan.folder or cache_dir(config), config.image_quality,
                    config.max_image_pixels, workers)
    infos = [dict(mine) for mine in photo_plan.infos]
    full = False
    for digest, problem in done.problems.items():
        if problem.code == STORAGE:  # the disk, not the photo: the build stops, nothing is published
            _, source, line, src = photo_plan.uses[digest][0]
            report.error(STORAGE, source, line, f"ảnh '{src}': {problem.message}", problem.hint)
            full = True
            continue
        for i, source, line, src in photo_plan.uses.get(digest, ()):
            _warn(report, source, line, src, problem)
            infos[i][src] = None
    if full:  # before Markdown and pages: on a full disk they would only fail later, or publish without photos
        raise BuildFailed(report.diagnostics)
    copies = tuple((done.files[(d, v)], out) for d, v, out in photo_plan.outputs if d not in done.problems)
    failed = {r.source.path for r in photo_plan.requests if r.source.digest in done.problems}
    published = tuple(p for p in photo_plan.published if p[0] not in failed)
    return dataclasses.replace(photo_plan, infos=tuple(infos), copies=copies, published=published,
                               processed=done.processed)


def _warn(report: Reporter, source: str, line: int, src: str, problem: ImageProblem) -> None:
    # A bad photo costs the reader one picture, not the whole site: a warning (an error under --strict).
    report.warning(problem.code, source, line, f"ảnh '{src}' bị bỏ khỏi trang: {problem.message}",
                   problem.hint or "thay ảnh bằng tệp JPEG, PNG hoặc WebP đọc được")


def _variants(source: Source, widths: tuple[int, ...], featured: bool) -> tuple[Variant, ...]:
    p = source.probe
    out = [Variant(kind, w, h) for w, h in variant_sizes(p.width, p.height, widths) for kind in ("jpg", "webp")
           if kind == "jpg" or max(w, h) <= WEBP_MAX_SIDE]  # WebP cannot hold a longer side: JPEG alone then
    if featured:
        out.append(Variant("og", *og_size(p.width, p.height)))
    return tuple(out)


def _copies(published: dict[tuple[Path, int], tuple[str, set[str]]]) -> tuple:
    """PhotoPlan.published from what `plan` found; photos of one size have the same endings, kept once (the link
    index holds them for every copy the site publishes)."""
    shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
    rows = []
    for (file, i), (out, endings) in published.items():
        shape = tuple(sorted(endings))  # sorted: the link index's key is made from them
        rows.append((file, out, i, shapes.setdefault(shape, shape)))
    return tuple(rows)


def _output_name(stem: str, v: Variant) -> str:
    return f"{stem}-{_ending(v)}"


def _ending(v: Variant) -> str:
    """What follows the photo's stem and a '-' in a variant's name. Never a '-' in it: a name's last '-' ends the
    stem (links.Index finds a copy's variants that way)."""
    return "og.jpg" if v.kind == "og" else f"{v.width}.{v.ext}"


def _info(stem_url: str, variants: tuple[Variant, ...]) -> ImageInfo:
    jpegs = [v for v in variants if v.kind == "jpg"]
    webps = [v for v in variants if v.kind == "webp"]
    largest = jpegs[-1]
    default = next((v for v in jpegs if v.width == _DEFAULT_SRC_WIDTH), largest)
    og = next((v for v in variants if v.kind == "og"), None)
    return ImageInfo(
        url=_output_name(stem_url, default), width=largest.width, height=largest.height,
        srcset=", ".join(f"{_output_name(stem_url, v)} {v.width}w" for v in jpegs),
        webp_srcset=", ".join(f"{_output_name(stem_url, v)} {v.width}w" for v in webps),
        full=_output_name(stem_url, largest),
        og=_output_name(stem_url, og) if og else "", og_width=og.width if og else 0, og_height=og.height if og else 0,
    )


def _public_name(file: Path, taken: dict[str, Path]) -> str:
    """A URL-safe stem for a photo's variants ('Ảnh hội nghị.JPG' -> 'anh-hoi-nghi'), unique within the
    article's folder (anh.jpg and anh.png become 'anh' and 'anh-2')."""
    stem = slugify(file.stem) or "anh"
    name, n = stem, 2
    while taken.get(name, file) != file:
        name, n = f"{stem}-{n}", n + 1
    taken[name] = file
    return name

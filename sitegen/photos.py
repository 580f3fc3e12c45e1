"""Which photos each article uses (front matter and body), whether they are usable, and where each is published.

Errors name the article and the line where the editor wrote the photo. Each photo file is probed once per
build even when several articles use it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from .images import ImageInfo, ImageProblem, Probe, probe
from .markup import image_refs
from .model import Article, resolve_photo
from .slugs import slugify
from .diagnostics import Reporter


@dataclass(frozen=True)
class PhotoPlan:
    infos: tuple[dict[str, ImageInfo], ...]  # per article: src as written -> published photo
    copies: tuple[tuple[Path, str], ...]  # (source file, output path) to publish


def plan(articles: tuple[Article, ...], urls: list[str], content_dir: Path, max_pixels: int, base_path: str,
         report: Reporter) -> PhotoPlan:
    """Probe every photo the articles use; `urls` are the articles' site-relative URLs."""
    probes: dict[Path, Probe | ImageProblem] = {}
    infos: list[dict[str, ImageInfo]] = []
    copies: dict[str, Path] = {}
    for article, url in zip(articles, urls):
        uses: list[tuple[str, Path | None, int]] = []
        for ref in ([article.image] if article.image else []) + list(article.photos):
            uses.append((ref.src, ref.file, ref.line))
        for src, _caption, line in image_refs(article.body, article.body_line):
            found = resolve_photo(src, article.folder, content_dir)
            if isinstance(found, str):
                report.error("IMG002" if found == "escape" else "IMG001", article.source, line,
                             f"ảnh '{src}' nằm ngoài thư mục content/" if found == "escape"
                             else f"không tìm thấy ảnh '{src}' bên cạnh bài viết",
                             "đặt ảnh vào cùng thư mục với index.md và ghi đúng tên tệp")
                continue
            uses.append((src, found, line))
        mine: dict[str, ImageInfo] = {}
        names: dict[str, Path] = {}
        folder = url if url.endswith("/") else posixpath.dirname(url) + "/"
        for src, file, line in uses:
            if src in mine or file is None:
                continue
            if file not in probes:
                try:
                    probes[file] = probe(file, max_pixels)
                except ImageProblem as problem:
                    probes[file] = problem
            result = probes[file]
            if isinstance(result, ImageProblem):
                report.error(result.code, article.source, line, f"ảnh '{src}': {result.message}", result.hint)
                continue
            name = _public_name(file, names)
            out = folder + name
            copies[out] = file
            mine[src] = ImageInfo(base_path + out, result.width, result.height)
        infos.append(mine)
    return PhotoPlan(tuple(infos), tuple((f, out) for out, f in sorted(copies.items())))


def _public_name(file: Path, taken: dict[str, Path]) -> str:
    """A URL-safe file name ('Ảnh hội nghị.JPG' -> 'anh-hoi-nghi.jpg'), unique within the article's folder."""
    stem = slugify(file.stem) or "anh"
    ext = file.suffix.lower() if file.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".gif") else ".img"
    name, n = stem + ext, 2
    while taken.get(name, file) != file:
        name, n = f"{stem}-{n}{ext}", n + 1
    taken[name] = file
    return name

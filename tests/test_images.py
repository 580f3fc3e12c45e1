"""Photos: responsive variants made with Pillow from real image files these tests write, the content-addressed
cache across builds, and bad photo files reported by article and photo while the rest of the site publishes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from conftest import article, text_of
from sitegen.structure import images
from sitegen.diagnostics import BuildFailed

RED, BLUE = (220, 20, 20), (20, 20, 220)


def camera_jpeg(path: Path, stored=(2000, 1000), orientation: int = 6) -> Path:
    """A camera-style JPEG: stored sideways with EXIF orientation, GPS position and XMP, left half red and
    right half blue (so once turned upright, red is on top)."""
    im = Image.new("RGB", stored, BLUE)
    im.paste(RED, (0, 0, stored[0] // 2, stored[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Canon"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (13.0, 46.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (109.0, 13.0, 8.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    im.save(path, "JPEG", quality=90, exif=exif.tobytes(), xmp=xmp)
    return path


def plain_jpeg(path: Path, size=(800, 600), color=(30, 120, 60), noise: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise else Image.new("RGB", size, color)
    im.save(path, "JPEG", quality=90)
    return path


def bomb_png(path: Path, w: int = 30000, h: int = 30000) -> Path:
    """A real 1x1 PNG whose header claims w x h pixels (CRC fixed, so only the size is a lie)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", w, h)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def cache_files(site) -> dict[str, tuple[int, int]]:
    root = site.root / ".sitegen" / "cache" / "img"
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and p.suffix in (".jpg", ".webp")}


def assert_no_metadata(path: Path) -> None:
    with Image.open(path) as im:
        assert not im.getexif(), f"{path.name} carries EXIF"
        assert "exif" not in im.info and "xmp" not in im.info and "XML:com.adobe.xmp" not in im.info
    data = path.read_bytes()
    assert b"Exif\x00\x00" not in data and b"adobe:ns:meta" not in data and b"Canon" not in data


def test_camera_photo_upright_metadata_free_in_every_width(site):
    site.write("content/thoi-su/hoi-nghi/index.md", article(
        "Hội nghị", photos='[{src: "anh-may-anh.jpg", caption: "Quang cảnh"}]',
        body="Đoạn đầu.\n\n![Quang cảnh hội nghị](anh-may-anh.jpg)\n"))
    camera_jpeg(site.root / "content/thoi-su/hoi-nghi/anh-may-anh.jpg")  # 2000x1000 stored, 1000x2000 upright
    result = site.build()
    assert result.photos_processed == 1
    out = site.public / "thoi-su/hoi-nghi"
    # Widths 480 and 960, and 1600 capped at the photo's own 1000: never upscaled.
    expected = {480: (480, 960), 960: (960, 1920), 1000: (1000, 2000)}
    for w, size in expected.items():
        for ext, fmt in (("jpg", "JPEG"), ("webp", "WEBP")):
            path = out / f"anh-may-anh-{w}.{ext}"
            with Image.open(path) as im:
                assert im.format == fmt and im.size == size
                rgb = im.convert("RGB")
                top, bottom = rgb.getpixel((size[0] // 2, size[1] // 8)), rgb.getpixel((size[0] // 2, size[1] * 7 // 8))
            assert top[0] > 150 and top[2] < 90, f"{path.name}: top should be red, is {top}"
            assert bottom[2] > 150 and bottom[0] < 90, f"{path.name}: bottom should be blue, is {bottom}"
            assert_no_metadata(path)
    assert not (out / "anh-may-anh-1600.jpg").exists()
    assert not (out / "anh-may-anh.jpg").exists()  # the camera original (5-12 MB, GPS) is not published
    with Image.open(out / "anh-may-anh-og.jpg") as og:  # smaller than 1200 wide: a 1200:630 crop, not upscaled
        assert og.size == (1000, 525)
    assert_no_metadata(out / "anh-may-anh-og.jpg")

    doc = site.html("thoi-su/hoi-nghi/index.html")
    figure = doc.find(".//div[@class='article-body']/figure")
    picture = figure.find("picture")
    source, img = picture.find("source"), picture.find("img")
    assert source.get("type") == "image/webp"
    assert source.get("srcset") == ", ".join(f"/thoi-su/hoi-nghi/anh-may-anh-{w}.webp {w}w" for w in expected)
    assert img.get("srcset") == ", ".join(f"/thoi-su/hoi-nghi/anh-may-anh-{w}.jpg {w}w" for w in expected)
    assert img.get("src") == "/thoi-su/hoi-nghi/anh-may-anh-960.jpg"
    assert (img.get("width"), img.get("height")) == ("1000", "2000")
    assert img.get("sizes") and source.get("sizes") == img.get("sizes")
    assert img.get("loading") is None  # the first photo of the body may be above the fold
    assert figure.find("figcaption").text == "Quang cảnh hội nghị"
    gallery_link = doc.find(".//section[@class='gallery']//a")
    assert gallery_link.get("href") == "/thoi-su/hoi-nghi/anh-may-anh-1000.jpg"  # the full photo, without JS
    assert doc.find(".//section[@class='gallery']//img").get("loading") == "lazy"
    metas = {m.get("property"): m.get("content") for m in doc.iter("meta") if m.get("property")}
    assert metas["og:image"].endswith("/thoi-su/hoi-nghi/anh-may-anh-og.jpg")
    assert (metas["og:image:width"], metas["og:image:height"]) == ("1000", "525")


def test_featured_photo_social_card_and_listing_picture(site):
    site.write("content/thoi-su/le-hoi/index.md", article("Lễ hội", image='"bia.jpg"'))
    plain_jpeg(site.root / "content/thoi-su/le-hoi/bia.jpg", size=(2400, 1600))
    site.build()
    with Image.open(site.public / "thoi-su/le-hoi/bia-og.jpg") as og:
        assert og.size == (1200, 630)
    with Image.open(site.public / "thoi-su/le-hoi/bia-1600.webp") as im:
        assert im.size == (1600, 1067)
    home = site.html("index.html")
    top = home.find(".//a[@class='featured-image']/picture")
    assert top.find("source").get("srcset").endswith("/thoi-su/le-hoi/bia-1600.webp 1600w")
    assert top.find("img").get("loading") is None  # the home page's top photo is not lazy
    listing = site.html("thoi-su/index.html")
    teaser_img = listing.find(".//a[@class='teaser-image']/picture/img")
    assert "/thoi-su/le-hoi/bia-480.jpg 480w" in teaser_img.get("srcset")


def test_a_listing_page_s_first_photo_is_eager_wherever_an_addition_moves_an_article(site, tmp_path):
    """The default listing loads its first teaser's photo at once (the page's likely Largest Contentful Paint) and
    the others lazily, from one memoised teaser per article (the `eager` filter drops the first `loading="lazy"`):
    after an addition the article pushed to the top of page 2 shows an eager photo, as a clean build of the same
    files does, byte for byte."""
    site.write("site.toml", 'per_page = 2\nsearch = false\n')
    for n, name in enumerate(("mot", "hai", "ba")):
        site.write(f"content/thoi-su/{name}/index.md", article(f"Bài {name}", date=f"2024-03-0{n + 1} 08:00",
                                                              image='"anh.jpg"'))
        plain_jpeg(site.root / f"content/thoi-su/{name}/anh.jpg", size=(960, 640))
    site.build()

    def loading(page: str) -> list:
        return [img.get("loading") for img in site.html(page).iterfind(".//a[@class='teaser-image']/picture/img")]

    assert loading("thoi-su/index.html") == [None, "lazy"] and loading("thoi-su/trang/2/index.html") == [None]
    site.write("content/thoi-su/bon/index.md", article("Bài bon", date="2024-03-04 08:00", image='"anh.jpg"'))
    plain_jpeg(site.root / "content/thoi-su/bon/anh.jpg", size=(960, 640))
    site.build()
    assert loading("thoi-su/index.html") == [None, "lazy"] and loading("thoi-su/trang/2/index.html") == [None, "lazy"]
    page2 = (site.public / "thoi-su/trang/2/index.html").read_bytes()
    assert b"B\xc3\xa0i hai" in page2  # (the article that was second on page 1: its teaser now first, eager)
    clean = site.config(output=tmp_path / "clean")
    from sitegen.build.pipeline import build
    build(clean, use_cache=False)
    assert (tmp_path / "clean/thoi-su/trang/2/index.html").read_bytes() == page2


@pytest.mark.parametrize("permalink, pages", [("{year}/{slug}.html", ("2024/do.html", "2024/xanh.html")),
                                                ("{year}/{slug}", ("2024/do", "2024/xanh"))])
def test_articles_sharing_a_folder_never_share_a_photo_of_the_same_name(site, permalink, pages):
    """A permalink naming a file puts a year's articles in one folder: each one's anh.jpg must still be its own
    photo on its own page (they were published as one file, one article showing the other's photo)."""
    site.write("site.toml", f'base_url = "https://tintuc.example/"\npermalink = "{permalink}"\nsearch = false\n')
    colours = {"do": RED, "xanh": BLUE}
    for n, (slug, colour) in enumerate(colours.items()):
        plain_jpeg(site.root / f"content/thoi-su/{slug}/anh.jpg", color=colour)
        site.write(f"content/thoi-su/{slug}/index.md",
                   article(slug, date=f"2024-03-2{n} 10:00", photos='[{src: "anh.jpg", caption: "Ảnh."}]',
                           body=f"![Ảnh {slug}](anh.jpg)\n\n[Xem ảnh lớn](anh.jpg)"))
    site.build()
    seen = set()
    for page, (slug, colour) in zip(pages, colours.items()):
        html = site.html(page)
        links = [a.get("href") for a in html.iter("a") if text_of(a) == "Xem ảnh lớn"]
        imgs = [i.get("src") for i in html.iter("img") if i.get("alt") == f"Ảnh {slug}"]
        assert len(imgs) == len(links) == 1, page
        for url in imgs + links:
            with Image.open(site.public / url.lstrip("/")) as im:
                assert im.convert("RGB").getpixel((5, 5)) == pytest.approx(colour, abs=12), (page, url)
        seen.update(imgs)
    assert len(seen) == 2
    assert not (site.public / "2024/anh-800.jpg").exists()


def test_second_build_processes_nothing(site):
    for i in range(3):
        site.write(f"content/thoi-su/bai-{i}/index.md", article(f"Bài {i}", photos='["anh.jpg"]'))
        plain_jpeg(site.root / f"content/thoi-su/bai-{i}/anh.jpg", color=(i * 60, 100, 50))
    assert site.build().photos_processed == 3
    before = cache_files(site)
    published = {p: p.stat().st_mtime_ns for p in site.public.rglob("anh-*")}
    second = site.build()
    assert second.photos_processed == 0
    assert cache_files(site) == before  # not one variant rewritten
    assert {p: p.stat().st_mtime_ns for p in site.public.rglob("anh-*")} == published


def test_changing_widths_reprocesses_only_the_new_width(site):
    site.write("site.toml", "image_widths = [480, 960]\n")
    site.write("content/thoi-su/a/index.md", article("A", photos='["anh.jpg"]'))
    plain_jpeg(site.root / "content/thoi-su/a/anh.jpg", size=(1200, 800))
    site.build()
    before = cache_files(site)
    assert len(before) == 5  # 2 widths x (JPEG + WebP) + the social card
    site.write("site.toml", "image_widths = [320, 480, 960]\n")
    result = site.build()
    assert result.photos_processed == 1
    after = cache_files(site)
    assert {k: v for k, v in after.items() if k in before} == before  # 480 and 960 untouched
    new = sorted(set(after) - set(before))
    assert len(new) == 2 and all("-320-" in name for name in new)
    with Image.open(site.public / "thoi-su/a/anh-320.webp") as im:
        assert im.size == (320, 213)
    assert site.build().photos_processed == 0


def test_photo_used_by_two_articles_is_processed_once(site):
    data = plain_jpeg(site.root / "content/thoi-su/a/anh.jpg").read_bytes()
    site.write("content/thoi-su/b/cung-anh.jpg", data)  # the same photo, another name, another article
    site.write("content/thoi-su/a/index.md", article("A", photos='["anh.jpg"]'))
    site.write("content/thoi-su/b/index.md", article("B", photos='["cung-anh.jpg"]', body="![Ảnh](cung-anh.jpg)"))
    assert site.build().photos_processed == 1
    assert (site.public / "thoi-su/a/anh-800.jpg").read_bytes() == (site.public / "thoi-su/b/cung-anh-800.jpg").read_bytes()


def test_corrupt_cache_entry_is_rebuilt(site):
    site.write("content/thoi-su/a/index.md", article("A", photos='["anh.jpg"]'))
    plain_jpeg(site.root / "content/thoi-su/a/anh.jpg")
    site.build()
    victim = next(p for p in (site.root / ".sitegen/cache/img").rglob("*-480-*.webp"))
    victim.write_bytes(victim.read_bytes()[:100])  # damaged outside sitegen
    # The next build that looks at every photo makes it again. (A build with no input changed is skipped whole,
    # an edit build looks only at the edited article, and a shift only at the articles it places anew: an asset
    # of the site's own is added, so that this is a build of the whole model, whatever the time since the first.)
    site.write("content/thoi-su/b/index.md", article("B"))
    site.write("assets/js/rieng.js", "/* the site's own script */\n")
    result = site.build()
    assert not result.edited and result.photos_processed == 1
    with Image.open(site.public / "thoi-su/a/anh-480.webp") as im:
        im.load()
        assert im.size == (480, 360)


def test_bad_photos_named_left_out_and_the_rest_publishes(site):
    folder = site.root / "content/thoi-su/bao-lu"
    plain_jpeg(folder / "tot.jpg")
    cut = plain_jpeg(folder / "cut.jpg", size=(600, 400), noise=True)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # truncated mid-scan: header still fine
    (folder / "van-ban.jpg").write_text("đây không phải là ảnh\n", encoding="utf-8")
    bomb_png(folder / "bom.png")
    site.write("content/thoi-su/bao-lu/index.md", article(
        "Bão lũ", photos='["tot.jpg", "van-ban.jpg", "bom.png"]',
        body="Mở đầu.\n\n![Ảnh hỏng](cut.jpg)\n\n![Ảnh tốt](tot.jpg)\n\nKết thúc."))
    site.write("content/thoi-su/khac/index.md", article("Bài khác"))
    result = site.build()
    found = {(d.code, d.path, d.severity) for d in result.diagnostics}
    src = "content/thoi-su/bao-lu/index.md"
    assert {("IMG003", src, "warning"), ("IMG005", src, "warning"), ("IMG004", src, "warning")} <= found
    messages = {d.code: d for d in result.diagnostics}
    assert "'cut.jpg'" in messages["IMG003"].message and "cắt cụt" in messages["IMG003"].message and messages["IMG003"].line == 9
    assert "'van-ban.jpg'" in messages["IMG005"].message and messages["IMG005"].line > 0
    assert "'bom.png'" in messages["IMG004"].message and messages["IMG004"].hint
    # The page publishes without the bad photos: no figure, no gallery item, no variant anywhere.
    doc = site.html("thoi-su/bao-lu/index.html")
    figures = doc.findall(".//div[@class='article-body']/figure")
    assert [f.find("figcaption").text for f in figures] == ["Ảnh tốt"]
    assert figures[0].find(".//img").get("loading") is None  # now the first photo of the body
    assert len(doc.findall(".//section[@class='gallery']//li")) == 1
    names = {p.name for p in (site.public / "thoi-su/bao-lu").iterdir()}
    assert "tot-800.jpg" in names and not any(n.startswith(("cut", "van-ban", "bom")) for n in names)
    assert (site.public / "thoi-su/khac/index.html").is_file()
    cache = site.root / ".sitegen/cache/img"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]  # no half-written variant
    assert len(cache_files(site)) == 5  # tot.jpg alone: 480 and 800 (its own width) x 2 formats + social card
    # --strict (CI) makes the same problems errors, naming the article and the photo, and publishes nothing new.
    with pytest.raises(BuildFailed) as failed:
        site.build(strict=True)
    text = str(failed.value)
    assert "content/thoi-su/bao-lu/index.md:4: lỗi[IMG004]: ảnh 'bom.png'" in text
    assert "lỗi[IMG005]: ảnh 'van-ban.jpg'" in text


def test_bad_photo_through_the_cli_is_one_line_not_a_traceback(site):
    folder = site.root / "content/thoi-su/a"
    site.write("content/thoi-su/a/index.md", article("A", photos='["hong.jpg"]'))
    whole = plain_jpeg(folder / "hong.jpg", noise=True).read_bytes()
    (folder / "hong.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    proc = site.cli("build")
    assert proc.returncode == 0, proc.stderr
    assert "content/thoi-su/a/index.md:4: cảnh báo[IMG003]: ảnh 'hong.jpg'" in proc.stderr
    assert "hong.jpg" in proc.stderr and "Traceback" not in proc.stderr
    proc = site.cli("build", "--strict")
    assert proc.returncode == 1 and "lỗi[IMG003]" in proc.stderr


def test_path_escaping_the_content_folder_is_an_error_naming_it(site):
    site.write("secret.jpg", plain_jpeg(site.root / "tmp.jpg").read_bytes())
    site.write("content/thoi-su/a/index.md", article("A", body="Chữ.\n\n![Bí mật](../../../secret.jpg)"))
    proc = site.cli("build")
    assert proc.returncode == 3  # the article is held back; the rest of the site publishes
    assert "content/thoi-su/a/index.md:8" in proc.stderr and "IMG002" in proc.stderr and "secret.jpg" in proc.stderr
    assert not (site.public / "thoi-su/a").exists()
    published = [p.read_bytes() for p in site.public.rglob("*") if p.is_file()]
    assert (site.root / "secret.jpg").read_bytes() not in published


def test_cmyk_jpeg_and_transparent_palette_png_convert_properly(site):
    folder = site.root / "content/thoi-su/a"
    folder.mkdir(parents=True)
    Image.new("CMYK", (600, 400), (0, 255, 255, 0)).save(folder / "in-an.jpg", "JPEG")  # print-shop red
    pal = Image.new("P", (600, 400), 0)
    pal.putpalette([0, 0, 0, 0, 160, 0] + [0] * 762)
    pal.paste(1, (0, 0, 300, 400))
    pal.info["transparency"] = 0
    pal.save(folder / "logo.png", transparency=0)
    site.write("content/thoi-su/a/index.md", article("A", photos='[{src: "in-an.jpg", alt: "Ảnh in"}, {src: "logo.png", alt: "Biểu trưng"}]'))
    result = site.build()
    assert not result.diagnostics
    out = site.public / "thoi-su/a"
    with Image.open(out / "in-an-600.jpg") as im:
        assert im.mode == "RGB"
        r, g, b = im.getpixel((300, 200))
        assert r > 180 and g < 80 and b < 80
    with Image.open(out / "logo-600.webp") as im:
        assert im.mode == "RGBA"
        assert im.getpixel((100, 200))[1] > 120 and im.getpixel((100, 200))[3] == 255
        assert im.getpixel((500, 200))[3] == 0  # transparency kept in WebP
    with Image.open(out / "logo-600.jpg") as im:
        assert im.mode == "RGB" and min(im.getpixel((500, 200))) > 240  # flattened onto white in JPEG


def test_image_settings_are_validated(site):
    site.write("content/thoi-su/a.md", article("A"))
    for bad in ('image_widths = "480"', "image_widths = [0, 480]", "image_widths = []", "image_quality = 0",
                "image_quality = 101"):
        site.write("site.toml", bad + "\n")
        proc = site.cli("build")
        assert proc.returncode == 2 and "CFG002" in proc.stderr and "site.toml:1" in proc.stderr, bad
    site.write("site.toml", "image_widths = [960, 480]\nimage_quality = 60\n")
    cfg = site.config()
    assert cfg.image_widths == (480, 960) and cfg.image_quality == 60


def test_variant_sizes_never_upscale():
    assert images.variant_sizes(1600, 1067, (480, 960, 1600)) == [(480, 320), (960, 640), (1600, 1067)]
    assert images.variant_sizes(700, 700, (480, 960, 1600)) == [(480, 480), (700, 700)]
    assert images.variant_sizes(300, 200, (480, 960)) == [(300, 200)]
    assert images.og_size(4000, 3000) == (1200, 630)
    assert images.og_size(800, 600) == (800, 420)
    assert images.og_size(1000, 300) == (571, 300)


def test_long_runs_report_progress_and_use_the_pool(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(images, "_PROGRESS_EVERY", 0.0)  # a line per photo instead of one every 2 s
    index = images.SourceIndex(tmp_path / "cache")
    requests = []
    for i in range(images._PROGRESS_MIN + 2):
        path = plain_jpeg(tmp_path / f"src/anh-{i}.jpg", size=(64, 48), color=(i * 4, 80, 120))
        source = index.source(path, 10_000_000)
        requests.append(images.Request(source, (images.Variant("jpg", 32, 24), images.Variant("webp", 64, 48))))
    done = images.produce(requests, tmp_path / "cache", 75, 10_000_000, workers=2)
    assert done.processed == len(requests) and done.variants_made == 2 * len(requests) and not done.problems
    err = capsys.readouterr().err
    assert f"Ảnh: đã xử lý 1/{len(requests)}" in err and f"Ảnh: xong {len(requests)}/{len(requests)}" in err
    for (digest, variant), path in done.files.items():
        with Image.open(path) as im:
            assert im.size == (variant.width, variant.height)
    again = images.produce(requests, tmp_path / "cache", 75, 10_000_000, workers=2)
    assert again.processed == 0 and not capsys.readouterr().err


@pytest.mark.parametrize("orientation,size,red_at", [
    (1, (200, 100), "left"), (3, (200, 100), "right"), (6, (100, 200), "top"), (8, (100, 200), "bottom")])
def test_every_exif_orientation_is_turned_upright(tmp_path, orientation, size, red_at):
    path = camera_jpeg(tmp_path / "anh.jpg", stored=(200, 100), orientation=orientation)
    source = images.SourceIndex(tmp_path / "cache").source(path, 10_000_000)
    assert (source.probe.width, source.probe.height) == size
    variant = images.Variant("webp", *size)
    done = images.produce([images.Request(source, (variant,))], tmp_path / "cache", 90, 10_000_000, workers=1)
    with Image.open(done.files[(source.digest, variant)]) as im:
        assert im.size == size
        w, h = size
        spot = {"left": (w // 8, h // 2), "right": (w * 7 // 8, h // 2), "top": (w // 2, h // 8),
                "bottom": (w // 2, h * 7 // 8)}[red_at]
        r, g, b = im.convert("RGB").getpixel(spot)
        assert r > 150 and b < 90, (orientation, spot, (r, g, b))

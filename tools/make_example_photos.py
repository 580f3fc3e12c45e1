#!/usr/bin/env python3
"""Generate soft placeholder photos for the example site content.

For every page bundle (content/**/index.md) the script collects the photo
files named in the front matter (`image:`, `photos: - src:`) and in inline
Markdown images (`![caption](anh-01.jpg)`), and paints a blurred
illustrative JPEG (sky, hills, sea, buildings, crowd...) beside index.md.
Output is deterministic: the picture depends only on SEED and the file path.

Usage: python3 tools/make_example_photos.py [content-dir]
Requires Pillow; standard library otherwise.
"""
import hashlib
import math
import random
import re
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SEED = 2024
QUALITY = 78
LANDSCAPE, PORTRAIT, WIDE = (1600, 1067), (1067, 1600), (2400, 1600)
SIZES = {  # path relative to content/ -> size; anything else is LANDSCAPE
    "kinh-te/2025/khu-kinh-te-nhon-hoi-thu-hut-them/anh-01.jpg": WIDE,
    "kinh-te/2024/ngu-dan-hoai-nhon-trung-dam-mua-ca-ngu/anh-02.jpg": PORTRAIT,
    "du-lich/2024/ky-co-eo-gio-dong-nghit-du-khach/anh-03.jpg": PORTRAIT,
}
SCENES = {  # category folder -> scene per photo number (cycled)
    "thoi-su": ["hall", "city", "field"],
    "kinh-te": ["sea", "city", "field"],
    "van-hoa-xa-hoi": ["crowd", "hall", "field"],
    "quoc-phong-an-ninh": ["crowd", "sea", "field"],
    "thi-dua-khen-thuong": ["hall", "crowd", "hall"],
    "giao-duc": ["city", "crowd"],
    "y-te": ["hall", "city"],
    "du-lich": ["sea", "sea", "field", "city"],
}
KEYWORDS = [  # caption words -> scene; the first match wins
    ("sea", ["biển", "cảng", "ca nô", "tàu", "vịnh", "eo gió", "ngư dân", "thương lái"]),
    ("field", ["cánh đồng", "lúa", "nông thôn", "đồng ruộng"]),
    ("hall", ["hội nghị", "cuộc họp", "trao", "lớp học", "bác sĩ", "đăng ký", "hồ sơ", "bằng khen"]),
    ("crowd", ["du khách", "người dân", "tân binh", "thí sinh", "võ", "trống", "dân quân", "chụp ảnh"]),
    ("city", ["toàn cảnh", "nhà máy", "đường", "sân trường", "nhà", "phố"]),
]
CAPTION_RE = re.compile(r'src:\s*"([^"]+)"\s*\n\s*caption:\s*"((?:[^"\\]|\\.)*)"')
REF_RE = re.compile(r'^\s*(?:-\s*)?(?:src|image):\s*"?([^"\s]+)"?\s*$', re.M)
INLINE_RE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)")


def referenced(index_md):
    """Local photo names used by a bundle, with their captions (may be "")."""
    text = index_md.read_text(encoding="utf-8")
    parts = text.split("\n---", 1) if text.startswith("---") else ["", text]
    names = REF_RE.findall(parts[0]) + INLINE_RE.findall(parts[-1])
    captions = dict(CAPTION_RE.findall(parts[0]))
    captions.update((n, c) for c, n in re.findall(r"!\[([^\]]*)\]\(\s*([^)\s]+)", parts[-1]))
    return {n: captions.get(n, "") for n in sorted(set(names)) if "/" not in n and ":" not in n}


def choose_scene(caption, fallback):
    low = caption.lower()
    return next((sc for sc, words in KEYWORDS if any(w in low for w in words)), fallback)


def mix(a, b, t):
    return tuple(int(a[i] + (b[i] - a[i]) * t) for i in range(3))


def ridge(rng, w, base, amp):
    """Polyline of a wavy horizon from left to right at height `base`."""
    f1, f2, p = rng.uniform(1, 3), rng.uniform(4, 9), rng.uniform(0, 6.3)
    return [(x, base - amp * (0.6 * math.sin(f1 * x / w * 6.3 + p)
                              + 0.4 * math.sin(f2 * x / w * 6.3)))
            for x in range(0, w + 40, 40)]


def paint(path, size, scene, rng):
    w, h = size
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    hue = rng.random()
    top = mix((40, 90, 170), (200, 110, 90), hue)
    low = mix((250, 210, 160), (190, 225, 245), rng.random())
    horizon = int(h * rng.uniform(0.45, 0.62))
    for y in range(h):  # sky gradient (also the wall of an indoor scene)
        d.line([(0, y), (w, y)], fill=mix(top, low, min(1, y / horizon)))
    s = min(w, h)
    if scene == "hall":
        wall = mix((235, 225, 205), top, 0.25)
        d.rectangle([0, 0, w, horizon], fill=wall)
        d.rectangle([w * .15, h * .08, w * .85, h * .3], fill=(180, 30, 35))
        d.rectangle([w * .1, horizon - s * .08, w * .9, horizon], fill=(120, 70, 50))
        d.rectangle([0, horizon, w, h], fill=(150, 40, 45))
    else:
        cx, cy, r = rng.uniform(.1, .9) * w, horizon * rng.uniform(.2, .6), s * .07
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 240, 200))
        for k in range(3):  # hills, far to near
            col = mix(mix(top, (60, 120, 80), .5 + .2 * k), low, .5 - .15 * k)
            pts = ridge(rng, w, horizon - s * (.12 - .04 * k), s * .06)
            d.polygon(pts + [(w, h), (0, h)], fill=col)
    if scene == "sea":
        sea = mix((30, 110, 160), top, .3)
        d.rectangle([0, horizon, w, h], fill=sea)
        for _ in range(40):
            y = rng.uniform(horizon, h)
            x = rng.uniform(0, w)
            d.line([(x, y), (x + s * .08, y)], fill=mix(sea, (255, 255, 255), .4), width=4)
        for _ in range(rng.randint(2, 5)):  # boats
            x, y = rng.uniform(0, w), rng.uniform(horizon + 20, h * .9)
            b = s * rng.uniform(.03, .06)
            d.polygon([(x - b, y), (x + b, y), (x + b * .7, y + b * .4), (x - b * .7, y + b * .4)],
                      fill=(90, 50, 40))
    elif scene == "field":
        for i in range(12):
            y0 = horizon + (h - horizon) * (i / 12) ** 1.5
            d.rectangle([0, y0, w, h], fill=mix((110, 170, 60), (220, 190, 80), (i % 3) / 3))
    elif scene == "city":
        d.rectangle([0, horizon, w, h], fill=(120, 120, 115))
        x = 0
        while x < w:
            bw, bh = s * rng.uniform(.06, .14), s * rng.uniform(.1, .45)
            col = mix((230, 225, 215), top, rng.uniform(0, .5))
            d.rectangle([x, horizon - bh, x + bw, horizon + s * .05], fill=col)
            for wy in range(int(horizon - bh + 15), int(horizon), 30):
                d.line([(x + 8, wy), (x + bw - 8, wy)], fill=mix(col, (60, 80, 110), .5), width=8)
            x += bw + s * .01
    if scene in ("crowd", "hall"):  # rows of people silhouettes
        ground = mix((110, 150, 90), low, .3) if scene == "crowd" else None
        if ground:
            d.rectangle([0, horizon + s * .05, w, h], fill=ground)
        for row in range(5):
            y, r = horizon + (h - horizon) * (.25 + row * .19), s * (.018 + row * .008)
            col = mix(mix(top, (40, 40, 60), .7), (20, 20, 30), row / 5)
            x = rng.uniform(-r, r)
            while x < w + r:
                shirt = mix(col, (rng.randint(0, 255), rng.randint(0, 255), 120), .35)
                d.ellipse([x - r * 1.6, y + r * .6, x + r * 1.6, y + r * 5], fill=shirt)
                d.ellipse([x - r, y - r, x + r, y + r], fill=col)
                x += r * rng.uniform(2.6, 3.4)
    img = img.filter(ImageFilter.GaussianBlur(s / 260))
    img.save(path, "JPEG", quality=QUALITY, optimize=True, progressive=True)


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "content")
    count = 0
    for index_md in sorted(root.rglob("index.md")):
        bundle = index_md.parent
        category = bundle.relative_to(root).parts[0]
        scenes = SCENES.get(category, ["field", "sea", "city"])
        for i, (name, caption) in enumerate(referenced(index_md).items()):
            rel = (bundle / name).relative_to(root).as_posix()
            digest = hashlib.sha256(f"{SEED}:{rel}".encode()).hexdigest()
            rng = random.Random(int(digest[:16], 16))
            paint(bundle / name, SIZES.get(rel, LANDSCAPE), choose_scene(caption, scenes[i % len(scenes)]), rng)
            count += 1
            print(f"{rel}  {(bundle / name).stat().st_size // 1024} KB  {choose_scene(caption, '-')}")
    print(f"{count} photos written under {root}")


if __name__ == "__main__":
    main()

"""`sitegen serve` on a busy port, and `sitegen serve --public`: the built site served under base_url's path."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import ROOT, article, fetch, free_port, interrupt, parse_html, serving, wait_for

from sitegen.preview.server import DEFAULT_PORT, PORTS_TRIED, PortBusy, _bind


@contextmanager
def holding(port: int):
    """A real program (a listening socket) on 127.0.0.1:port for the `with` block."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        yield


def small_site(root: Path, base_url: str = "http://localhost:8000/") -> Path:
    (root / "content/thoi-su/hop-bao").mkdir(parents=True)
    (root / "site.toml").write_text(f'base_url = "{base_url}"\n[[categories]]\nname = "Thời sự"\nslug = "thoi-su"\n',
                                    encoding="utf-8")
    (root / "content/thoi-su/hop-bao/index.md").write_text(
        article("Họp báo thường kỳ", category='"Thời sự"', tags='["họp báo"]',
                body="Nội dung. Xem [bài kia](../khai-mac/index.md)."), encoding="utf-8")
    (root / "content/thoi-su/khai-mac").mkdir(parents=True)
    (root / "content/thoi-su/khai-mac/index.md").write_text(
        article("Khai mạc lễ hội", date="2024-03-30 08:00", category='"Thời sự"', tags='["lễ hội"]'), encoding="utf-8")
    return root


def start(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sitegen", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def read_until(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> tuple[re.Match, str]:
    """Read the server's output line by line until `pattern` matches (a thread, so a silent server cannot hang)."""
    seen: list[str] = []
    found: list[re.Match] = []

    def reader() -> None:
        for line in proc.stdout:
            seen.append(line)
            if m := re.search(pattern, line):
                found.append(m)
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    assert found, f"no line matching {pattern!r} in: {''.join(seen)}"
    return found[0], "".join(seen)


def test_a_busy_port_given_explicitly_is_named_and_exits_2(tmp_path):
    root = small_site(tmp_path / "site")
    port = free_port()
    with holding(port):
        result = subprocess.run([sys.executable, "-m", "sitegen", "serve", "--source", str(root), "--port", str(port)],
                                capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Xem thử tại" not in result.stdout  # no working-looking address first
    assert (f"site: lỗi[SERVE001]: cổng {port} đang có chương trình khác dùng (có thể là một bản xem thử khác đang "
            f"chạy) (cách sửa: chọn cổng khác, ví dụ sitegen serve --port {port + 1}, hoặc dừng chương trình đang "
            f"dùng cổng {port}) [xem: sitegen help SERVE001]") in result.stderr.splitlines()
    assert result.stderr.rstrip().endswith("Bản xem thử không chạy.")


def test_the_next_free_port_is_taken_and_said(tmp_path):
    lines: list[str] = []
    first = free_port()
    with holding(first):
        sockets, port = _bind("127.0.0.1", None, lines.append, first=first)
    try:
        assert first < port < first + PORTS_TRIED
        assert lines == [f"Cổng {first} đang bận: dùng cổng {port}."]
        with pytest.raises(PortBusy, match=f"cổng {port} đang có chương trình khác dùng"):
            _bind("127.0.0.1", port, lines.append)  # given explicitly: that port or nothing
    finally:
        for s in sockets:
            s.close()


def hold_8000() -> socket.socket | None:
    """Hold 8000 for the test, waiting a little if another program on this shared machine has it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", DEFAULT_PORT))
            s.listen()
            return s
        except OSError:
            s.close()
            time.sleep(0.5)
    return None


def test_without_port_a_busy_8000_gives_the_next_free_port_and_says_so(tmp_path):
    root = small_site(tmp_path / "site")
    held = hold_8000()
    if held is None:
        pytest.skip("port 8000 stayed in use by another program on this machine for 30 s")
    try:
        proc = start("serve", "--source", str(root))
        try:
            m, out = read_until(proc, r"Xem thử tại http://127\.0\.0\.1:(\d+)/ ")
            port = int(m.group(1))
            assert DEFAULT_PORT < port < DEFAULT_PORT + PORTS_TRIED
            assert f"Cổng {DEFAULT_PORT} đang bận: dùng cổng {port}." in out.splitlines()
            assert out.index("đang bận") < out.index("Xem thử tại")
            home = wait_for(lambda: (r := fetch(f"http://127.0.0.1:{port}/"))[0] == 200 and "Họp báo" in r[1] and r,
                            timeout=60, what="the preview on the port it announced")
            assert "Khai mạc lễ hội" in home[1]
        finally:
            interrupt(proc)
    finally:
        held.close()


LINKS = {"a": ["href"], "link": ["href"], "script": ["src"], "img": ["src", "srcset"], "source": ["srcset"]}


def links_of(page_url: str, body: bytes) -> set[str]:
    doc = parse_html(body)
    found = set()
    for tag, attrs in LINKS.items():
        for el in doc.iter(tag):
            for attr in attrs:
                value = el.get(attr)
                if not value:
                    continue
                for part in value.split(",") if attr == "srcset" else [value]:
                    found.add(urljoin(page_url, part.strip().split(" ")[0]))
    return found


def test_serve_public_serves_a_site_under_its_base_path_and_every_link_works(tmp_path):
    root = small_site(tmp_path / "site", base_url="https://example.gov.vn/tin-tuc/")
    built = subprocess.run([sys.executable, "-m", "sitegen", "build", "--source", str(root)], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert built.returncode == 0, built.stderr
    home_html = (root / "public/index.html").read_bytes()
    first = sorted(u for u in links_of("http://x/tin-tuc/", home_html) if "/thoi-su/" in u)[0]
    # Why the README no longer says `python3 -m http.server -d public`: it serves public/ at /, not /tin-tuc/.
    with serving(root / "public") as plain:
        assert fetch(urljoin(plain, urlsplit(first).path))[0] == 404

    port = free_port()
    proc = start("serve", "--public", "--port", str(port), cwd=root)
    try:
        m, out = read_until(proc, r"tại (http://127\.0\.0\.1:\d+/tin-tuc/)")
        base = m.group(1)
        assert base == f"http://127.0.0.1:{port}/tin-tuc/"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:  # follows the redirect
            assert r.url == base and r.status == 200
        todo, seen, pages = [base], set(), 0
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            with urllib.request.urlopen(url, timeout=10) as r:  # raises on anything but 2xx/3xx
                assert r.status == 200, url
                body, ctype = r.read(), r.headers.get("Content-Type", "")
            assert b"livereload" not in body  # what the host serves, nothing of the preview's
            if ctype.startswith("text/html"):
                pages += 1
                for link in links_of(url, body):
                    parts = urlsplit(link)
                    if parts.netloc == f"127.0.0.1:{port}":
                        assert parts.path.startswith("/tin-tuc/"), f"{url} links outside the site: {link}"
                        todo.append(link.split("#")[0])
        assert pages >= 8 and any("/thoi-su/hop-bao/" in u for u in seen) and any("/chu-de/" in u for u in seen)
        status, body = fetch(f"http://127.0.0.1:{port}/thoi-su/hop-bao/")  # outside the base path: not the site
        assert status == 404 and "<html" in body.lower()
        status, _ = fetch(base + "khong-co-trang-nay/")
        assert status == 404
        assert fetch(f"http://127.0.0.1:{port}/_sitegen/huong-dan/")[0] == 404  # the preview's guide is not published
    finally:
        interrupt(proc)

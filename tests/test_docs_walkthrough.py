"""The README's and the editor's guide's setup and day, walked literally on fresh folders outside the repository.

The commands are read from the documents' own code blocks, so the docs cannot drift from the behaviour again:
install sitegen from a wheel built in a clean copy of this repository into a fresh virtualenv, `init` a site,
preview it, build it, check it as the host will serve it, write an article with `sitegen new`, preview, build
and publish. The only changes made to the documented lines are the substitutions listed in `Walk.SUBSTITUTE`
(folders of the test instead of /opt and /srv) and `sudo ln -s` (the virtualenv's bin/ goes on the PATH
instead). The installed sitegen runs without PYTHONPATH: the theme and the guide must come from the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from conftest import ROOT, fetch, interrupt, parse_html, text_of, wait_for

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "docs/huong-dan-bien-tap.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The part of a Markdown document under `heading` (a whole heading line), up to the next heading of the same
    or a higher level."""
    m = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, flags=re.M)
    assert m, f"no heading {heading!r}: the walkthrough follows it"
    level = len(m.group(1))
    fenced = False  # a '# comment' line inside a ``` block is not a heading
    offset = m.end()
    for line in text[m.end():].splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return text[m.end():offset]
        offset += len(line)
    return text[m.end():]


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```sh block, comments removed."""
    return [[line for line in (uncomment(l) for l in block.splitlines()) if line]
            for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)]


def uncomment(line: str) -> str:
    """The line without a trailing `# ...` comment (a # outside quotes, after a space)."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


EDITOR = """\
#!{python}
# The editor: writes the article under the front matter `sitegen new` prepared, and publishes it (a draft is
# published by deleting its `draft: true` line, as the guide says).
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
head, _, _ = text.partition("\\n---\\n")
head = "\\n".join(l for l in head.splitlines() if l.strip() != "draft: true")
open(path, "w", encoding="utf-8").write(head + "\\n---\\n\\nChiều nay, hội nghị tổng kết năm 2024 đã diễn ra tại hội trường tỉnh.\\n")
"""

RSYNC = """\
#!{python}
# A stand-in for rsync -a --delete SRC/ DST/ on a machine without rsync (the test's machine, not sitegen's).
import shutil, sys
args = [a for a in sys.argv[1:] if not a.startswith("-")]
assert sys.argv[1:3] == ["-a", "--delete"] and len(args) == 2, sys.argv
shutil.rmtree(args[1], ignore_errors=True)
shutil.copytree(args[0], args[1], symlinks=True)
"""


class Walk:
    """Runs documented command lines one by one, as a person at a terminal would: `cd` changes the folder,
    `&&` chains, a `sitegen serve` keeps running until the walk checks what it serves."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.venv = tmp / "opt-sitegen"
        self.srv = tmp / "srv-tintuc"
        self.www = tmp / "var-www-tintuc"
        self.cwd = tmp
        tools = tmp / "tools"
        tools.mkdir()
        for name, script in [("editor", EDITOR)] + ([("rsync", RSYNC)] if shutil.which("rsync") is None else []):
            (tools / name).write_text(script.format(python=sys.executable), encoding="utf-8")
            (tools / name).chmod(0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), str(tools), env.get("PATH", "")])
        env["EDITOR"] = str(tools / "editor")
        self.env = env
        self.walked: list[str] = []

    SUBSTITUTE = {"/opt/sitegen": "venv", "/srv/tintuc": "srv", "user@may-chu:/var/www/tintuc/": "www"}

    def substitute(self, line: str) -> str:
        for documented, attr in self.SUBSTITUTE.items():
            target = str(getattr(self, attr)) + ("/" if documented.endswith("/") else "")
            line = line.replace(documented, target)
        return line.replace("python3 ", f"{sys.executable} ", 1) if line.startswith("python3 ") else line

    def run(self, line: str, serving: Callable[[str], None] | None = None) -> list[str]:
        """Run one documented line; returns what each command printed on stdout."""
        self.walked.append(line)
        outputs = []
        for part in self.substitute(line).split(" && "):
            part = part.strip()
            if part.startswith("cd "):
                self.cwd = (self.cwd / part[3:].strip()).resolve()
                continue
            if part.startswith("sitegen serve"):
                assert serving is not None, f"{line}: what should the preview show?"
                self.serve(part, serving)
                continue
            result = subprocess.run(["bash", "-c", part], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                                    timeout=600)
            assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, result.stderr
            outputs.append(result.stdout)
        return outputs

    def serve(self, command: str, check: Callable[[str], None]) -> None:
        proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen: list[str] = []
        address: list[str] = []

        def reader() -> None:
            try:
                for out in proc.stdout:
                    seen.append(out)
                    if not address and (m := re.search(r"tại (http://127\.0\.0\.1:\d+/\S*)", out)):
                        address.append(m.group(1))
            except ValueError:  # interrupt()'s communicate() read the rest and closed the pipe
                pass

        threading.Thread(target=reader, daemon=True).start()
        try:
            wait_for(lambda: address, timeout=60, what=f"the address `{command}` prints: {''.join(seen)}")
            check(address[0])
        finally:
            interrupt(proc)


def page_has(url: str, *texts: str) -> str:
    """Wait until the page at `url` answers 200 with every text (a preview's first build takes a moment)."""
    def ready():
        status, body = fetch(url)
        return status == 200 and all(t in body for t in texts) and body
    return wait_for(ready, timeout=90, what=f"{url} showing {texts}")


def clean_copy(target: Path) -> Path:
    """This repository as a fresh clone would have it: its files, without the virtualenv, caches or builds."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if rel.split("/")[0] in (".venv", ".cache") or not (ROOT / rel).is_file():
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target / rel)
    return target


def test_the_readme_and_the_guide_walked_literally(tmp_path):
    walk = Walk(tmp_path)
    install, first_site = shell_blocks(section(README, "Cài đặt cho một trang riêng / Installing for your own site"))
    [editors_day] = shell_blocks(section(README, "Một ngày của biên tập viên / The editor's day"))[:1]
    guide_preview = shell_blocks(section(GUIDE, "4. Xem thử trước khi đăng"))
    guide_publish = shell_blocks(section(GUIDE, "6. Xuất bản"))
    guide_new_site = shell_blocks(section(GUIDE, "8. Tạo trang mới"))

    # 1. Install, from a clean copy of the repository, into a fresh virtualenv.
    walk.cwd = clean_copy(tmp_path / "sitegen")
    started = time.monotonic()
    for line in install:
        if line.startswith("sudo ln -s "):  # the PATH of this walk already has the virtualenv's bin/
            assert line.endswith(" /usr/local/bin/sitegen") and "/opt/sitegen/bin/sitegen" in line
            continue
        walk.run(line)
    install_seconds = time.monotonic() - started
    sitegen = walk.venv / "bin" / "sitegen"
    assert sitegen.is_file() and os.stat(sitegen).st_mode & stat.S_IXUSR
    theme = walk.run("sitegen theme")[0]
    assert str(walk.venv) in theme.splitlines()[0]  # the theme comes from the installed wheel, not the repository
    assert str(walk.venv) in walk.run("sitegen help")[0].splitlines()[0]  # and so does the editor's guide

    # 2. The guide's new site (section 8): init, cd, preview.
    walk.cwd = tmp_path / "may-cua-quan-tri"
    walk.cwd.mkdir()
    [new_site] = guide_new_site
    for line in new_site:
        walk.run(line, serving=lambda url: page_has(url, "Khai trương trang thông tin điện tử"))
    assert (walk.cwd / "site.toml").is_file() and walk.cwd.name == "tin-tuc-huyen"

    # 3. The README's site for a province: init in /srv, preview, build, then the local check of what is built,
    #    after setting base_url as the guide says (a path, as many provincial portals have).
    walk.cwd = tmp_path
    seen_home = []
    for line in first_site:
        if line.startswith("sitegen build"):
            toml = walk.srv / "site.toml"
            toml.write_text(re.sub(r'^base_url = ".*"$', 'base_url = "https://tinh.gov.vn/tin-tuc/"',
                                   toml.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")
        walk.run(line, serving=lambda url: seen_home.append((url, page_has(url, "Hướng dẫn viết bài đầu tiên"))))
    assert [url.split(":", 2)[2].split("/", 1)[1] for url, _ in seen_home] == ["", "tin-tuc/"]  # preview; --public
    assert sorted(p.name for p in (walk.srv / "templates").iterdir()) == ["README.md"]
    public = walk.srv / "public"
    assert not [p for p in public.rglob(".*")], "a hidden file would be published"
    footer = text_of(parse_html((public / "index.html").read_bytes()).find(".//footer"))
    assert "Điện thoại" not in footer and "..." not in footer

    # 4. The editor's day (README): new article through $EDITOR, preview, build and publish.
    assert walk.cwd == walk.srv
    write, preview, publish = editors_day
    printed = walk.run(write)
    assert printed == [""]  # the path went to $EDITOR
    article = next(walk.srv.glob("content/thoi-su/*/hoi-nghi-tong-ket-nam-2024/index.md"))
    assert "Chiều nay, hội nghị tổng kết năm 2024" in article.read_text(encoding="utf-8")
    walk.run(preview, serving=lambda url: page_has(url, "Hội nghị tổng kết năm 2024"))
    walk.run(publish)
    published = walk.www / "thoi-su" / "hoi-nghi-tong-ket-nam-2024" / "index.html"
    assert "Chiều nay, hội nghị tổng kết năm 2024" in published.read_text(encoding="utf-8")
    assert not [p for p in walk.www.rglob(".*")], "a hidden file reached the host"

    # 5. A mistake, and the reference it prints, read from the site folder with the installed sitegen.
    article.write_text(article.read_text(encoding="utf-8").replace("title: ", "title: Hội nghị: ", 1), encoding="utf-8")
    check = subprocess.run(["sitegen", "check"], cwd=walk.cwd, env=walk.env, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 3  # the article would be held back at its last good version (guide, HOLD001)
    [reference] = [m.group(1) for line in check.stderr.splitlines()
                   if "lỗi[" in line and (m := re.search(r"\[xem: (sitegen help [A-Z]+\d{3})\]$", line))]
    explained = walk.run(reference)[0]
    code = reference.rsplit(" ", 1)[1]
    assert explained.startswith(f"#### {code} — ") and "**Cách sửa:**" in explained

    # The guide's own commands are the ones walked above.
    for block in guide_preview + guide_publish:
        for line in block:
            assert any(line == w or line in w.split(" && ") for w in walk.walked), f"guide's `{line}` not walked"
    print(f"install (wheel + fresh virtualenv, shared machine): {install_seconds:.1f}s")

"""The benchmark corpus from ../shared/bench/gen_corpus.py is valid input: 1000 articles build without error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import SHARED, parse_html, run_cli

GEN = SHARED / "bench" / "gen_corpus.py"


@pytest.mark.skipif(not GEN.is_file(), reason="../shared/bench/gen_corpus.py is not beside this checkout")
def test_thousand_article_corpus_builds(tmp_path):
    subprocess.run([sys.executable, str(GEN), str(tmp_path), "--articles", "1000", "--photos-per-article", "0",
                    "--seed", "7"], check=True, capture_output=True)
    result = run_cli("build", "--source", str(tmp_path), "--strict")
    assert result.returncode == 0, result.stderr[-3000:]
    # Long stages report progress; in CI (no terminal) as plain lines, ending with the full count.
    assert "Đọc bài: 1000/1000" in result.stderr and "Markdown: 1000/1000" in result.stderr
    assert result.stderr.index("Đọc bài: ") < result.stderr.index("Markdown: ")
    assert any(ln.startswith("Dựng trang: ") and ln.split(": ")[1].split("/")[0] == ln.split("/")[-1]
               for ln in result.stderr.splitlines())
    out = tmp_path / "public"
    articles = [p for p in out.glob("*/*/index.html") if p.parent.parent.name not in ("chu-de", "luu-tru")
                and p.parent.name != "trang"]
    assert len(articles) == 1000
    parse_html(next(iter(articles)).read_bytes())
    assert (out / "van-hoa-xa-hoi/trang/2/index.html").is_file()

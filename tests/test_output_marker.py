"""What proves public/ is sitegen's to replace is not published: no dotfile reaches the host, and a folder that is
not ours is still never replaced (sitegen/build/write.py, ATTRIBUTE and MARKER)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import article, run_cli

from sitegen.build import write
from sitegen.diagnostics import BuildFailed


def small_site(root: Path) -> Path:
    (root / "content/thoi-su/bai").mkdir(parents=True)
    (root / "content/thoi-su/bai/index.md").write_text(article("Bài một", category='"Thời sự"'), encoding="utf-8")
    return root


def every_file(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_build_publishes_no_dotfile_and_marks_the_folder_itself(tmp_path):
    root = small_site(tmp_path / "site")
    for n in range(2):  # the first build fills public/, the second swaps the spare twin in
        (root / "content/thoi-su/bai/index.md").write_text(article(f"Bài {n}", category='"Thời sự"'), encoding="utf-8")
        result = run_cli("build", "--source", str(root))
        assert result.returncode == 0, result.stderr
        public = root / "public"
        hidden = [name for name in every_file(public) if any(part.startswith(".") for part in name.split("/"))]
        assert not hidden, f"published to the host: {hidden}"
        assert "index.html" in every_file(public)
        token = os.getxattr(public, write.ATTRIBUTE).decode()
        assert len(token) == 32 and write.output_token(public) == token
    spare = root / ".public.spare"
    assert write.output_token(spare) not in ("", write.DIRTY, token)  # the build before, complete


def test_a_folder_made_again_by_someone_else_is_never_replaced(tmp_path):
    root = small_site(tmp_path / "site")
    assert run_cli("build", "--source", str(root)).returncode == 0
    public = root / "public"
    for path in sorted(public.rglob("*"), reverse=True):  # rm -rf public && mkdir public: a new folder, ours no more
        path.rmdir() if path.is_dir() else path.unlink()
    public.rmdir()
    public.mkdir()
    (public / "bao-cao.docx").write_bytes(b"work of someone")
    result = run_cli("build", "--source", str(root))
    assert result.returncode == 2 and "lỗi[CFG003]" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert every_file(public) == ["bao-cao.docx"] and (public / "bao-cao.docx").read_bytes() == b"work of someone"


def test_output_of_an_earlier_sitegen_with_the_marker_file_is_taken_over(tmp_path):
    root = small_site(tmp_path / "site")
    assert run_cli("build", "--source", str(root)).returncode == 0
    (root / "content/thoi-su/hai/").mkdir()
    (root / "content/thoi-su/hai/index.md").write_text(article("Bài hai", category='"Thời sự"'), encoding="utf-8")
    assert run_cli("build", "--source", str(root)).returncode == 0
    # As an earlier sitegen left them: the token in a published file, no attribute.
    for folder in (root / "public", root / ".public.spare"):
        token = write.output_token(folder)
        os.removexattr(folder, write.ATTRIBUTE)
        (folder / write.MARKER).write_text(f"sitegen {token}\n", encoding="utf-8")
        assert write.output_token(folder) == token
    (root / "content/thoi-su/bai/index.md").write_text(article("Bài một, sửa", category='"Thời sự"'), encoding="utf-8")
    for _ in range(2):
        result = run_cli("build", "--source", str(root))
        assert result.returncode == 0, result.stderr
        assert write.MARKER not in every_file(root / "public")
        assert write.output_token(root / "public")
        (root / "content/thoi-su/bai/index.md").write_text(article("Bài một, sửa lần nữa", category='"Thời sự"'),
                                                           encoding="utf-8")
    assert write.MARKER not in every_file(root / ".public.spare")
    assert "Bài một, sửa" in (root / "public/index.html").read_text(encoding="utf-8")


def test_without_user_attributes_the_marker_file_does_the_job(tmp_path, monkeypatch):
    from conftest import Site

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", refuse)
    monkeypatch.setattr(os, "getxattr", refuse)
    site = Site(small_site(tmp_path / "site"))
    site.build()
    assert (site.public / write.MARKER).read_text(encoding="utf-8").startswith("sitegen ")
    first = write.output_token(site.public)
    site.write("content/thoi-su/bai/index.md", article("Bài một, sửa", category='"Thời sự"'))
    site.build()
    assert write.output_token(site.public) not in ("", first, write.DIRTY)
    (site.public / write.MARKER).unlink()  # no proof left: not ours any more
    site.write("content/thoi-su/bai/index.md", article("Bài một, sửa nữa", category='"Thời sự"'))
    with pytest.raises(BuildFailed) as failed:
        site.build()
    assert [d.code for d in failed.value.diagnostics] == ["CFG003"]

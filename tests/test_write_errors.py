"""A folder that cannot be written is a located error, never a traceback, and the live site stays whole."""

from __future__ import annotations

import pytest

from conftest import article, tree_snapshot


def test_output_that_cannot_be_created_is_reported(site, tmp_path):
    site.write("content/thoi-su/a.md", article("A"))
    blocker = tmp_path / "tep-thuong"
    blocker.write_text("không phải thư mục")
    result = site.cli("build", "--output", str(blocker / "public"))
    assert result.returncode == 1, result.stderr
    assert "WRITE001" in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "không phải thư mục"


def test_disk_full_is_reported_and_live_site_kept(site, monkeypatch):
    site.write("content/thoi-su/a.md", article("A"))
    site.build()
    before = tree_snapshot(site.public)
    site.write("content/thoi-su/a.md", article("A đã sửa"))
    from sitegen.build import write
    from sitegen.diagnostics import BuildFailed

    def full(self, rel, data):
        raise OSError(28, "No space left on device", str(self.dir / rel))

    monkeypatch.setattr(write.Staging, "write_bytes", full)
    with pytest.raises(BuildFailed) as failed:
        site.build(jobs=1)
    assert [d.code for d in failed.value.diagnostics] == ["WRITE001"]
    assert "No space left" in failed.value.diagnostics[0].message
    assert tree_snapshot(site.public) == before

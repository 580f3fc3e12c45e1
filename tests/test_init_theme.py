"""`sitegen init` gives a site only what it overrides: the theme comes from the installed sitegen, so theme fixes
reach existing sites; `sitegen theme copy` starts an override of one file, which wins; no made-up contact details
are published."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from conftest import parse_html, run_cli, text_of

from sitegen import config as config_mod
from sitegen.build.pipeline import build


def init(tmp_path: Path) -> Path:
    root = tmp_path / "tin-tuc-huyen"
    result = run_cli("init", str(root))
    assert result.returncode == 0, result.stderr
    assert "sitegen theme copy" in result.stderr
    # As the guide says to do first (its placeholder is CFG005, an error in the --strict builds below).
    toml = root / "site.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'base_url = "http://localhost:8000/"' in text
    toml.write_text(text.replace('base_url = "http://localhost:8000/"', 'base_url = "https://huyen.example.vn/"'),
                    encoding="utf-8")
    return root


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_init_writes_no_theme_only_folders_that_explain_overriding(tmp_path):
    root = init(tmp_path)
    assert files(root / "templates") == ["README.md"]
    assert files(root / "assets") == [".gitkeep"]
    readme = (root / "templates/README.md").read_text(encoding="utf-8")
    assert "sitegen theme copy base.html" in readme and "sitegen theme copy css/site.css" in readme
    result = run_cli("build", "--source", str(root), "--strict")
    assert result.returncode == 0, result.stderr
    published = files(root / "public")
    assert "assets/css/site.css" in published  # from the installed theme
    assert not [p for p in published if "README" in p or "gitkeep" in p]


def test_the_theme_comes_from_the_package_so_its_fixes_reach_an_existing_site(tmp_path, monkeypatch):
    root = init(tmp_path)
    theme = tmp_path / "sitegen-moi" / "_theme"  # sitegen upgraded: its packaged theme has a fix
    templates, assets = config_mod.default_theme_dirs()
    shutil.copytree(templates, theme / "templates")
    shutil.copytree(assets, theme / "assets")
    base = theme / "templates/base.html"
    base.write_text(base.read_text(encoding="utf-8").replace(
        '<p class="footer-name">', '<p class="footer-fixed">Bản giao diện đã sửa</p><p class="footer-name">'),
        encoding="utf-8")
    monkeypatch.setattr(config_mod, "_PACKAGED_THEME", theme)
    build(config_mod.load(root))
    footer = parse_html((root / "public/index.html").read_bytes()).find(".//footer")
    assert "Bản giao diện đã sửa" in text_of(footer)


def test_theme_copy_starts_an_override_that_wins_file_by_file(tmp_path):
    root = init(tmp_path)
    listing = run_cli("theme", cwd=root)
    assert listing.returncode == 0 and "  templates/base.html" in listing.stdout
    assert "  assets/css/site.css" in listing.stdout
    made = run_cli("theme", "copy", "base.html", "css/site.css", "--source", str(root))
    assert made.returncode == 0, made.stderr
    assert [Path(p).resolve() for p in made.stdout.split()] == [root / "templates/base.html",
                                                                 root / "assets/css/site.css"]
    templates, assets = config_mod.default_theme_dirs()
    assert (root / "templates/base.html").read_bytes() == (templates / "base.html").read_bytes()
    base = root / "templates/base.html"
    base.write_text(base.read_text(encoding="utf-8").replace(
        '<p class="footer-name">', '<p class="footer-own">Giao diện riêng của huyện</p><p class="footer-name">'),
        encoding="utf-8")
    (root / "assets/css/site.css").write_text("body { color: #123456 }\n", encoding="utf-8")
    result = run_cli("build", "--source", str(root), "--strict")
    assert result.returncode == 0, result.stderr
    home = parse_html((root / "public/index.html").read_bytes())
    assert "Giao diện riêng của huyện" in text_of(home.find(".//footer"))
    assert (root / "public/assets/css/site.css").read_text(encoding="utf-8") == "body { color: #123456 }\n"
    # Files not copied still come from the theme.
    assert (root / "public/assets/js").is_dir() and files(root / "public/assets/js") == files(assets / "js")

    again = run_cli("theme", "copy", "base.html", "--source", str(root))
    assert again.returncode == 1 and "lỗi[THEME002]" in again.stderr and "Traceback" not in again.stderr
    assert "Giao diện riêng của huyện" in base.read_text(encoding="utf-8")  # never overwritten
    unknown = run_cli("theme", "copy", "bas.html", "--source", str(root))
    assert unknown.returncode == 1 and "lỗi[THEME001]" in unknown.stderr and "templates/base.html" in unknown.stderr
    escape = run_cli("theme", "copy", "../../site.toml", "--source", str(root))
    assert escape.returncode == 1 and "lỗi[THEME001]" in escape.stderr


def test_init_publishes_no_made_up_contact_details_until_site_toml_sets_them(tmp_path):
    root = init(tmp_path)
    toml = (root / "site.toml").read_text(encoding="utf-8")
    params = tomllib.loads(toml)["params"]
    assert "address" not in params and "contact" not in params
    assert "bỏ dấu # và ghi thông tin thật" in toml and "remove the # and write the real details" in toml
    assert run_cli("build", "--source", str(root)).returncode == 0
    footer = text_of(parse_html((root / "public/index.html").read_bytes()).find(".//footer"))
    assert "Địa chỉ" not in footer and "Điện thoại" not in footer and "..." not in footer
    (root / "site.toml").write_text(toml.replace('# address = "Địa chỉ: số nhà, đường, phường/xã, tỉnh"',
                                                 'address = "Địa chỉ: 12 Lê Lợi, phường Quy Nhơn"'), encoding="utf-8")
    assert run_cli("build", "--source", str(root)).returncode == 0
    footer = text_of(parse_html((root / "public/index.html").read_bytes()).find(".//footer"))
    assert "Địa chỉ: 12 Lê Lợi, phường Quy Nhơn" in footer and "Điện thoại" not in footer

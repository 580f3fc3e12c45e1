"""The `sitegen` command: parse arguments, run a command, print diagnostics, map the outcome to an exit code.

Exit codes: 0 success (warnings allowed unless --strict), 1 errors in content or templates, 2 usage or
configuration errors. No traceback reaches an editor: unexpected failures are reported as such, with a hint.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__, config as config_mod
from .diagnostics import BuildFailed, Diagnostic


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        args = parser.parse_args(["build", *(argv or [])])
    try:
        return args.run(args)
    except BuildFailed as failed:
        _print_diagnostics(failed.diagnostics)
        errors = sum(d.severity == "error" for d in failed.diagnostics)
        print(f"\nDựng trang thất bại: {errors} lỗi. Thư mục xuất cũ được giữ nguyên.", file=sys.stderr)
        return 2 if any(d.code.startswith("CFG") for d in failed.diagnostics) else 1
    except KeyboardInterrupt:
        print("\nĐã dừng.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sitegen", description="Dựng cổng tin tức tĩnh từ bài viết Markdown.")
    p.add_argument("--version", action="version", version=f"sitegen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="LỆNH")

    b = sub.add_parser("build", help="dựng toàn bộ trang vào thư mục xuất (mặc định public/)")
    _site_args(b)
    b.add_argument("--output", "-o", type=Path, help="thư mục xuất (mặc định SOURCE/public)")
    b.add_argument("--drafts", action="store_true", help="dựng cả bài nháp và bài hẹn giờ (chỉ để xem thử)")
    b.set_defaults(run=_build)

    c = sub.add_parser("check", help="kiểm tra toàn bộ nội dung mà không ghi gì ra đĩa")
    _site_args(c)
    c.set_defaults(run=_check)
    return p


def _site_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    p.add_argument("--strict", action="store_true", help="coi cảnh báo là lỗi (nên dùng trong CI)")


def _build(args: argparse.Namespace) -> int:
    from .pipeline import build

    cfg = config_mod.load(args.source, args.output)
    result = build(cfg, drafts=args.drafts, strict=args.strict)
    _print_diagnostics(result.diagnostics)
    s = result.stats
    times = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    print(f"Đã dựng {result.articles} bài, {result.pages} trang vào {_show(cfg.output_dir)}: "
          f"{s.written} tệp ghi mới, {s.unchanged} không đổi, {s.copied} tệp sao chép ({times}).")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .pipeline import build

    cfg = config_mod.load(args.source)
    result = build(cfg, strict=args.strict, publish=False)
    _print_diagnostics(result.diagnostics)
    print(f"Kiểm tra xong {result.articles} bài: không có lỗi.")
    return 0


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for d in sorted(diagnostics):
        print(d.format(), file=sys.stderr)


def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())

"""The `sitegen` command: parse arguments, run a command, print diagnostics, map the outcome to an exit code.

Exit codes: 0 success (warnings allowed unless --strict), 1 errors in content or templates (nothing published;
`check`: errors found), 2 usage or configuration errors, 3 published, but articles with errors of their own were
held back (build/hold.py; `check`: would be held back). No traceback reaches an editor: unexpected failures are reported as such, with a hint.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, NoReturn

from . import __version__, config as config_mod
from .diagnostics import BuildFailed, Diagnostic

# Seconds `build` and `check` wait for another build of the same site to finish. Long: a cron job whose previous
# run is still going should follow it, not fail; the preview's saves wait less (preview/server.py).
WAIT = 600.0
HELD = 3  # exit status: the site was published without the articles listed as held back


def run(argv: list[str] | None = None) -> NoReturn:
    """The command line (`sitegen`, `python -m sitegen`, `python build.py`): `main`, then the process ends at once.
    A build leaves a million objects behind, and Python, exiting, tears its interpreter down freeing them one by
    one: 0.08 s of a 1.2 s addition at 10 000 articles, for memory the system takes back anyway. Everything that
    must happen at exit still does: output flushed, the exit hooks run (temporary folders removed); the build has
    closed its cache and its files, and released the site's lock, before `main` returns."""
    code = main(argv)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # (a thread still working, which a normal exit waits for: none is left by any command today)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # (a closed or broken pipe: nothing more to say there)
            pass
    atexit._run_exitfuncs()  # (the hooks a normal exit runs, by the atexit module's own undocumented function)
    os._exit(code)


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
        # Commands that write no site say what they did not do instead (set with set_defaults(failed=...)).
        failed_text = getattr(args, "failed", "Dựng trang thất bại: {n} lỗi. Thư mục xuất cũ được giữ nguyên.")
        print("\n" + failed_text.format(n=errors), file=sys.stderr)
        return 2 if any(d.code.startswith("CFG") and d.severity == "error" for d in failed.diagnostics) else 1
    except KeyboardInterrupt:
        print("\nĐã dừng.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sitegen help | head`: the reader has gone, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sitegen", description="Dựng cổng tin tức tĩnh từ bài viết Markdown.")
    p.add_argument("--version", action="version", version=f"sitegen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="LỆNH")

    b = sub.add_parser("build", help="dựng toàn bộ trang vào thư mục xuất (mặc định public/)")
    _site_args(b)
    b.add_argument("--output", "-o", type=Path, help="thư mục xuất (mặc định SOURCE/public)")
    b.add_argument("--drafts", action="store_true", help="dựng cả bài nháp và bài hẹn giờ (chỉ để xem thử)")
    b.add_argument("--stats", metavar="DB-HOẶC-URL",
                   help="cộng số liệu bạn đọc (lượt xem, đánh giá, ý kiến đã duyệt) từ tệp SQLite hoặc địa chỉ máy thu")
    _wait_arg(b)
    b.set_defaults(run=_build)

    v = sub.add_parser("serve", help="xem thử: dựng cả bài nháp, tự tải lại trình duyệt khi lưu tệp")
    v.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    v.add_argument("--port", "-p", type=int, default=None,
                   help="cổng (mặc định 8000, hoặc cổng trống kế tiếp nếu 8000 đang bận)")
    v.add_argument("--host", default="127.0.0.1",
                   help="địa chỉ nghe (mặc định 127.0.0.1: chỉ máy này; 0.0.0.0 để máy khác trong mạng xem)")
    v.add_argument("--public", action="store_true",
                   help="phục vụ bản đã dựng (public/) như máy chủ web sẽ phục vụ, dưới đường dẫn của base_url, "
                        "không dựng lại: để kiểm tra trước khi chép lên máy chủ")
    v.add_argument("--output", "-o", type=Path, help="với --public: thư mục đã dựng (mặc định SOURCE/public)")
    v.set_defaults(run=_serve)

    c = sub.add_parser("check", help="kiểm tra toàn bộ nội dung mà không ghi gì ra đĩa")
    _site_args(c)
    _wait_arg(c)
    c.set_defaults(run=_check, failed="Kiểm tra thấy {n} lỗi (danh sách ở trên). Không ghi gì ra đĩa.")

    n = sub.add_parser("new", help="tạo bài viết mới với phần đầu điền sẵn")
    n.add_argument("title", help='tiêu đề bài, trong dấu ngoặc kép: "Hội nghị tổng kết năm 2024"')
    n.add_argument("--category", "-c", help="tên hoặc slug chuyên mục trong site.toml (mặc định: chuyên mục đầu tiên)")
    n.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    n.set_defaults(run=_new, failed="Chưa tạo bài: {n} lỗi. Không tệp nào bị ghi đè.")

    i = sub.add_parser("init", help="tạo trang mới: site.toml, hai bài mẫu; giao diện lấy từ sitegen đã cài")
    i.add_argument("dir", type=Path, help="thư mục trang mới (chưa có hoặc đang trống)")
    i.set_defaults(run=_init, failed="Chưa tạo trang: {n} lỗi. Không tệp nào bị ghi đè.")

    s = sub.add_parser("schedule", help="liệt kê bài sắp đăng hoặc sắp gỡ theo giờ hẹn")
    s.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    s.add_argument("--json", action="store_true", help="in dạng JSON cho máy đọc")
    s.set_defaults(run=_schedule, failed="Không lập được lịch: {n} lỗi trong bài viết.")

    t = sub.add_parser("theme", help="liệt kê tệp của giao diện mặc định; copy TỆP: chép một tệp vào trang để sửa")
    t.add_argument("action", nargs="?", default="list", choices=["list", "copy"])
    t.add_argument("names", nargs="*", metavar="TỆP", help="vd. base.html, partials/listing.html, css/site.css")
    t.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    t.set_defaults(run=_theme, failed="Chưa chép tệp giao diện: {n} lỗi. Không tệp nào bị ghi đè.")

    h = sub.add_parser("help", help="giải thích một mã lỗi (vd. sitegen help FM002) theo hướng dẫn biên tập")
    h.add_argument("code", nargs="?", metavar="MÃ", help="mã lỗi (FM002, IMG001...) hoặc tên mục (xem-thu, xuat-ban)")
    h.set_defaults(run=_help)

    st = sub.add_parser("stats", help="máy thu số liệu bạn đọc: đánh giá, lượt xem, ý kiến (xem docs/stats.md)")
    st_sub = st.add_subparsers(dest="stats_command", metavar="LỆNH", required=True)
    ss = st_sub.add_parser("serve", help="chạy máy thu số liệu cho các ô đánh giá, lượt xem, ý kiến của trang")
    ss.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    ss.add_argument("--db", metavar="TỆP-HOẶC-URL",
                    help="tệp SQLite (mặc định SOURCE/stats.sqlite3), hoặc địa chỉ PostgreSQL postgresql://... "
                         "khi nhiều máy thu chạy sau một bộ cân bằng tải (xem docs/stats.md)")
    ss.add_argument("--host", default="127.0.0.1", help="địa chỉ nghe (mặc định 127.0.0.1, đặt sau proxy ngược)")
    ss.add_argument("--port", "-p", type=int, default=8081, help="cổng (mặc định 8081)")
    ss.add_argument("--rate", type=int, default=120, help="số yêu cầu tối đa mỗi phút cho một địa chỉ (mặc định 120)")
    ss.add_argument("--trust-proxy", action="store_true", help="lấy địa chỉ bạn đọc từ X-Forwarded-For (chỉ khi đứng sau proxy)")
    ss.add_argument("--trusted-proxy", action="append", default=[], metavar="ĐỊA-CHỈ", type=_network,
                    help="thêm một proxy tin cậy (địa chỉ hoặc dải, vd. 10.0.0.0/8) khi có nhiều tầng proxy; kéo theo --trust-proxy")
    ss.add_argument("--timeout", type=_positive(float), default=10.0, metavar="GIÂY",
                    help="thời gian tối đa để nhận trọn một yêu cầu, và để giữ kết nối rảnh (mặc định 10)")
    ss.add_argument("--max-connections", type=_positive(int), default=1000, metavar="N",
                    help="số kết nối mở cùng lúc tối đa (mặc định 1000)")
    ss.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                    help="thêm một nguồn được gửi số liệu (ngoài base_url và 127.0.0.1)")
    ss.set_defaults(run=_stats_serve, failed="Máy thu số liệu không chạy: {n} lỗi.")
    sc = st_sub.add_parser("comments", help="duyệt ý kiến bạn đọc: list, all, approve SỐ..., reject SỐ...")
    sc.add_argument("action", nargs="?", default="list", choices=["list", "all", "approve", "reject"])
    sc.add_argument("ids", nargs="*", type=int, help="số của ý kiến (xem bằng list)")
    sc.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa site.toml)")
    sc.add_argument("--db", metavar="TỆP-HOẶC-URL",
                    help="tệp SQLite (mặc định SOURCE/stats.sqlite3) hoặc địa chỉ postgresql://... của máy thu")
    sc.set_defaults(run=_stats_comments, failed="Chưa duyệt được: {n} lỗi.")
    sm = st_sub.add_parser("migrate", help="chuyển số liệu từ tệp SQLite sang một cơ sở dữ liệu PostgreSQL trống")
    sm.add_argument("sqlite", metavar="TỆP-SQLITE", help="tệp SQLite của máy thu (vd. stats.sqlite3)")
    sm.add_argument("--db", metavar="URL", required=True, help="địa chỉ postgresql://... của cơ sở dữ liệu mới")
    sm.set_defaults(run=_stats_migrate, failed="Chưa chuyển được số liệu: {n} lỗi.")
    return p


def _network(text: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"không phải địa chỉ IP hay dải địa chỉ: {text!r} (ví dụ 10.0.0.5 hoặc 10.0.0.0/8)") from None
    return text


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"cần một số lớn hơn 0, không phải {text!r}")
        return value

    return parse


def _site_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", "-s", type=Path, default=Path("."), help="thư mục trang (chứa content/, site.toml)")
    p.add_argument("--strict", action="store_true", help="coi cảnh báo là lỗi (nên dùng trong CI)")


def _wait_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait", type=float, default=WAIT, metavar="GIÂY",
                   help=f"nếu trang đang được dựng ở nơi khác (cron, xem thử), chờ tối đa chừng này giây "
                        f"(mặc định {WAIT:g}) rồi báo lỗi LOCK001")


def _locked(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command that reads the site and writes its caches under the site's build lock (see lock.py): one at
    a time per site, the others waiting up to --wait seconds. Everything, site.toml included, is read inside."""

    def locked(args: argparse.Namespace) -> int:
        from .build.lock import site_lock

        with site_lock(args.source.resolve(), args.wait, on_wait=lambda m: print(m, file=sys.stderr, flush=True)):
            return run(args)

    return locked


@_locked
def _build(args: argparse.Namespace) -> int:
    from .build.pipeline import build

    cfg = config_mod.load(args.source, args.output)
    # A build allocates millions of objects that live to the end; the default thresholds make the collector
    # sweep them again and again (a fifth of the load stage at 100 000 articles).
    gc.set_threshold(100_000, 50, 1000)
    result = build(cfg, drafts=args.drafts, strict=args.strict, stats_from=args.stats, progress=_progress())
    _print_diagnostics(result.diagnostics)
    s = result.stats
    if result.skipped:
        print(f"Không có gì thay đổi kể từ lần dựng trước: {result.articles} bài, {result.pages} trang trong "
              f"{_show(cfg.output_dir)} giữ nguyên ({result.timings.get('check', 0):.2f}s).")
        return _held(result.held)
    times = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    if result.edited:
        times = ("chỉ các trang có bài vừa thêm hoặc gỡ; " if result.shifted else "chỉ các trang có bài vừa sửa; ") + times
    print(f"Đã dựng {result.articles} bài, {result.pages} trang vào {_show(cfg.output_dir)}: "
          f"{result.rendered} trang dựng mới, {s.written} tệp ghi, {s.unchanged} không đổi, {s.copied} tệp sao chép, "
          f"{s.removed} tệp xóa ({times}){'; ' + result.search if result.search else ''}.")
    if result.restored:
        print(f"{len(result.restored)} tệp đã bị xóa khỏi {_show(cfg.output_dir)} sau lần dựng trước (như "
              f"{result.restored[0]}): đã làm lại.")
    return _held(result.held)


def _held(held: tuple[str, ...]) -> int:
    """Name the articles held back (their errors are listed above) and choose the exit status."""
    if not held:
        return 0
    print(f"Giữ lại {len(held)} bài có lỗi (các bài khác vẫn được xuất bản): {', '.join(held)}.", file=sys.stderr)
    return HELD


def _serve(args: argparse.Namespace) -> int:
    from .preview.server import PortBusy, serve, serve_public

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Chú ý: bản xem thử mở cho mọi máy truy cập được {args.host}. Không dùng để phục vụ bạn đọc.",
              file=sys.stderr)
    try:
        if args.public:
            return serve_public(args.source, host=args.host, port=args.port, output=args.output)
        return serve(args.source, host=args.host, port=args.port)
    except PortBusy as busy:  # a usage problem, like a configuration error: exit 2, nothing started
        hint = (f"chọn cổng khác, ví dụ sitegen serve --port {args.port + 1}, hoặc dừng chương trình đang dùng cổng "
                f"{args.port}" if args.port is not None else "dừng các bản xem thử cũ, hoặc chọn cổng bằng --port")
        _print_diagnostics([Diagnostic("", 0, 0, "SERVE001", "error", busy.message, hint)])
        print("\nBản xem thử không chạy.", file=sys.stderr)
        return 2


@_locked  # check renders every page and fills the image cache, so it must not overlap a build either
def _check(args: argparse.Namespace) -> int:
    from .build.pipeline import Warm, build

    cfg = config_mod.load(args.source)
    result = build(cfg, strict=args.strict, publish=False, warm=Warm())  # in memory: check writes no cache file
    _print_diagnostics(result.diagnostics)
    errors = sum(d.severity == "error" for d in result.diagnostics)
    warnings = sum(d.severity == "warning" for d in result.diagnostics)
    if result.held:
        print(f"Kiểm tra xong {result.articles} bài: {errors} lỗi, {warnings} cảnh báo. Khi dựng trang, "
              f"{len(result.held)} bài sẽ bị giữ lại (các bài khác vẫn được xuất bản): {', '.join(result.held)}.")
        return HELD
    drafts = f" (lỗi của bản nháp: {errors}, không chặn việc xuất bản)" if errors else ""
    print(f"Kiểm tra xong {result.articles} bài: không có lỗi{drafts}, {warnings} cảnh báo.")
    return 0


def _new(args: argparse.Namespace) -> int:
    from .scaffold import new_article

    cfg = config_mod.load(args.source)
    made = new_article(cfg, args.title, args.category)
    if made.category_defaulted:
        print(f"Chuyên mục: {made.category_name} (chọn chuyên mục khác bằng --category).", file=sys.stderr)
    print("Bài mới là bài nháp (draft: true): chỉ hiện khi xem thử, chưa đăng. Viết xong nội dung, xóa dòng "
          "'draft: true' ở đầu tệp (hoặc sửa thành draft: false) để bài lên trang ở lần dựng tiếp theo.",
          file=sys.stderr)
    print(_show(made.path))  # alone on stdout, so scripts can open it: $EDITOR "$(sitegen new "...")"
    return 0


def _init(args: argparse.Namespace) -> int:
    from .scaffold import new_site

    new_site(args.dir)
    print(f"Đã tạo trang mới ở {_show(args.dir)}. Xem thử: cd {_show(args.dir)} && sitegen serve "
          "(hoặc sitegen build rồi mở public/). Giao diện lấy từ sitegen đã cài; sửa một tệp giao diện: "
          "sitegen theme copy base.html", file=sys.stderr)
    return 0


def _theme(args: argparse.Namespace) -> int:
    from . import theme
    from .config import default_theme_dirs

    if args.action == "list":
        templates, assets = default_theme_dirs()
        print(f"Giao diện mặc định (theo sitegen đã cài): {templates.parent}")
        print("Tệp cùng tên trong templates/ hoặc assets/ của trang sẽ thay tệp của giao diện. "
              "Chép một tệp để sửa: sitegen theme copy base.html\n")
        for name in theme.files():
            print(f"  {name}")
        return 0
    if not args.names:
        print("Cần tên tệp: sitegen theme copy base.html (xem danh sách bằng sitegen theme)", file=sys.stderr)
        return 2
    for name in args.names:
        made = theme.copy(args.source, name)
        print(_show(made))
    return 0


def _help(args: argparse.Namespace) -> int:
    """Print a section of the editor's guide shipped with sitegen: what every diagnostic's `[xem: ...]` names."""
    from . import guide
    from .diagnostics import CODES

    if not args.code:
        print(f"Hướng dẫn biên tập: {guide.path()}\n(khi xem thử bằng sitegen serve: {guide.PREVIEW_PATH})\n")
        print("Xem giải thích một mã lỗi: sitegen help MÃ, ví dụ sitegen help FM002\n")
        for code, title in CODES.items():
            print(f"  {code:<10} {title}")
        return 0
    try:
        found = guide.find(args.code)
    except OSError as exc:  # an install without its guide: say so, not a traceback
        print(f"Không đọc được hướng dẫn biên tập ({guide.path()}): {exc.strerror or exc}. Cài lại sitegen.",
              file=sys.stderr)
        return 2
    if isinstance(found, list):
        nearest = f" Có phải: {', '.join(found)}?" if found else ""
        print(f"Không có mục '{args.code}' trong hướng dẫn biên tập.{nearest} "
              "Chạy sitegen help (không kèm mã) để xem danh sách mã lỗi.", file=sys.stderr)
        return 2
    print(found.body, end="")
    return 0


def _schedule(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .build.pipeline import Warm, build
    from .diagnostics import Reporter
    from .content.schedule import as_json, as_table, plan

    cfg = config_mod.load(args.source)
    report = Reporter()
    now = dt.datetime.now(cfg.tz)
    planned = plan(cfg, report, now)
    if planned.site_wide:  # an article's own errors only mark its row; these make the whole list doubtful
        report.raise_if_errors()
    _print_diagnostics(report.diagnostics)
    problems = None
    if any(e.action == "publish" for e in planned.events):
        # Each article due to publish, validated as the site will be then (the build does the same, see hold).
        checked = build(cfg, publish=False, render=False, warm=Warm(), now=now)
        problems: dict[str, list[tuple[str, str]]] = {}
        # With the reading's errors: a broken article's status does not depend on the build finding them again.
        for d in sorted(checked.diagnostics + report.errors):
            if not d.code.startswith("HOLD") and (d.code, d.severity) not in problems.setdefault(d.path, []):
                problems[d.path].append((d.code, d.severity))
    print(json.dumps(as_json(planned.events, cfg, now, problems, planned.unknown), ensure_ascii=False, indent=2)
          if args.json else as_table(planned.events, cfg, now, problems, planned.unknown))
    return 0


def _stats_serve(args: argparse.Namespace) -> int:
    from .readers.server import serve

    cfg = config_mod.load(args.source)
    return serve(cfg, args.db or str(cfg.root / "stats.sqlite3"), host=args.host, port=args.port, rate=args.rate,
                 trust_proxy=args.trust_proxy, extra_origins=args.allow_origin, trusted_proxies=args.trusted_proxy,
                 timeout=args.timeout, max_connections=args.max_connections)


def _stats_comments(args: argparse.Namespace) -> int:
    from .readers.store import moderate

    if args.action in ("approve", "reject") and not args.ids:
        print(f"Cần số của ý kiến: sitegen stats comments {args.action} 12", file=sys.stderr)
        return 2
    db = args.db or str(args.source.resolve() / "stats.sqlite3")
    for line in moderate(db, args.action, args.ids):
        print(line)
    return 0


def _stats_migrate(args: argparse.Namespace) -> int:
    from .readers.store import Unavailable, is_url

    if not is_url(args.db):
        raise BuildFailed([Diagnostic("--db", 0, 0, "STATS001", "error", f"'{args.db}' không phải địa chỉ PostgreSQL",
                                      "ví dụ: --db postgresql://sitegen@db.example/sitegen_stats")])
    from .readers.store_pg import migrate, shown

    try:
        votes, views, comments = migrate(args.sqlite, args.db)
    except FileNotFoundError as exc:
        raise BuildFailed([Diagnostic(args.sqlite, 0, 0, "STATS001", "error", str(exc),
                                      "chỉ đường dẫn tệp SQLite của máy thu cũ (vd. /var/lib/sitegen-stats/stats.sqlite3)")]) from None
    except Unavailable as exc:
        raise BuildFailed([Diagnostic(args.sqlite, 0, 0, "STATS001", "error", exc.detail,
                                      "kiểm tra tệp SQLite, và máy chủ PostgreSQL, tên người dùng, mật khẩu, tên cơ sở "
                                      "dữ liệu trong --db")]) from None
    except ValueError as exc:
        raise BuildFailed([Diagnostic(args.sqlite, 0, 0, "STATS001", "error", str(exc),
                                      "chuyển vào một cơ sở dữ liệu PostgreSQL trống (createdb), khi máy thu cũ đã dừng")]) from None
    print(f"Đã chuyển {votes} đánh giá, {views} lượt xem, {comments} ý kiến vào {shown(args.db)}.")
    return 0


def _progress() -> Callable[[str, int, int], None]:
    """A bar on a terminal; in CI and logs, a plain line every five seconds (and at the end of each stage)."""
    names = {"load": "Đọc bài", "markdown": "Markdown", "render": "Dựng trang"}
    terminal = sys.stderr.isatty()
    last = [0.0]

    def show(stage: str, done: int, total: int) -> None:
        label = names.get(stage, stage)
        if terminal:
            filled = 30 * done // total
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{label:<11}[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}{end}")
        elif done == total or time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            sys.stderr.write(f"{label}: {done}/{total}\n")
        sys.stderr.flush()

    return show


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

"""Every problem a build can find, as data: `Diagnostic`, the `Reporter` that collects them, `BuildFailed`.

Editors fix what they are shown, so each diagnostic names the file and line, a stable code, what is wrong and
what to do (in Vietnamese, the editors' language). All problems of a run are collected first and reported
together, so one run shows every mistake. Imports nothing from the rest of sitegen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# Every code the build can print, with the short title the editor's guide uses as its section heading.
# The guide (docs/huong-dan-bien-tap.md) must explain each one; a test keeps the two in step.
CODES: dict[str, str] = {
    "CFG001": "site.toml không đọc được",
    "CFG002": "Giá trị sai trong site.toml",
    "CFG003": "Thư mục xuất không an toàn",
    "CFG004": "Khóa không có trong site.toml",
    "CFG005": "base_url vẫn là địa chỉ mẫu",
    "CFG006": "Không có thư mục trang",
    "READ001": "Không đọc được tệp",
    "READ002": "Tệp quá lớn",
    "READ003": "Liên kết tượng trưng trỏ ra ngoài trang",
    "READ004": "Vòng lặp liên kết tượng trưng",
    "READ005": "Tệp thay đổi trong lúc đang dựng",
    "READ006": "Hai tệp trùng tên khi chuẩn hóa Unicode",
    "ENC001": "Tệp không phải UTF-8",
    "ENC002": "Tệp lưu dạng UTF-16",
    "ENC003": "Tệp nhị phân",
    "ENC004": "Ký tự điều khiển vô hình trong tệp",
    "FM001": "Phần đầu (front matter) không được đóng",
    "FM002": "Lỗi cú pháp YAML",
    "FM003": "Phần đầu không phải bảng khóa: giá trị",
    "FM004": "Khóa bị lặp",
    "FM005": "Thẻ YAML không an toàn",
    "FM006": "Phần đầu lồng quá sâu hoặc quá lớn",
    "FM007": "Ký tự điều khiển trong phần đầu",
    "MD001": "Nội dung lồng quá sâu",
    "MD002": "Nội dung chuyển quá lâu",
    "META001": "Thiếu trường bắt buộc",
    "META002": "Sai kiểu dữ liệu",
    "META003": "Ngày giờ không hợp lệ",
    "META004": "Chuyên mục chưa khai báo",
    "META005": "Trường không nhận giá trị này",
    "META006": "Hai bài trùng tiêu đề",
    "BODY001": "Bài còn nội dung mẫu",
    "DATE002": "Giờ không tồn tại ở múi giờ của trang",
    "ROUTE001": "Hai trang trùng địa chỉ",
    "ROUTE003": "Không tạo được đường dẫn (slug) từ tiêu đề",
    "ROUTE004": "Đường dẫn thoát khỏi thư mục trang",
    "ROUTE005": "Tên tệp không hợp lệ",
    "IMG001": "Không tìm thấy ảnh",
    "IMG002": "Đường dẫn ảnh ra ngoài thư mục nội dung",
    "IMG003": "Ảnh hỏng hoặc không đọc được",
    "IMG004": "Ảnh quá lớn (nghi bom giải nén)",
    "IMG005": "Định dạng ảnh không được phép",
    "IMG006": "Ảnh thiếu mô tả (alt)",
    "IMG007": "Một ảnh hai chú thích khác nhau",
    "LINK001": "Liên kết hỏng",
    "LINK002": "Liên kết tới mục (#) không có",
    "LINK003": "Liên kết tới bài chưa xuất bản",
    "HOLD001": "Bài bị giữ lại, chưa xuất bản",
    "HOLD002": "Bản nháp có lỗi",
    "TPL001": "Lỗi khi dựng giao diện",
    "TPL002": "Lỗi cú pháp giao diện",
    "TPL003": "Không tìm thấy giao diện",
    "WRITE001": "Không ghi được thư mục xuất",
    "WRITE002": "Không ghi được ảnh vào bộ nhớ đệm",
    "CACHE001": "Không dùng được bộ nhớ đệm",
    "CACHE002": "Bộ nhớ đệm có dòng hỏng",
    "CLOCK001": "Đồng hồ của máy chạy lùi",
    "LOCK001": "Trang đang được dựng bởi tiến trình khác",
    "SEARCH001": "Không tạo được chỉ mục tìm kiếm",
    "NEW001": "Bài viết đã tồn tại",
    "NEW002": "Chuyên mục không có trong site.toml",
    "NEW003": "Không tạo được tệp hoặc thư mục mới",
    "INIT001": "Thư mục trang mới không trống",
    "THEME001": "Giao diện mặc định không có tệp này",
    "THEME002": "Trang đã có tệp giao diện này",
    "STATS001": "Không đọc được số liệu bạn đọc",
    "STATS002": "Không có ý kiến bạn đọc này",
    "STATS003": "Không mở được cổng cho máy thu số liệu",
    "SERVE001": "Không mở được cổng cho bản xem thử",
    "SERVE002": "Bản xem thử dựng không xong",
}

# Every printed diagnostic ends by naming its section of the guide, so the editor knows where to read on. The
# guide ships with sitegen (guide.py): `sitegen help CODE` prints that section from any site folder, which a path
# into this repository's docs/ could not (a site made by `sitegen init` has no docs/).
GUIDE = "docs/huong-dan-bien-tap.md"
HELP = "sitegen help {code}"

ERROR = "error"
WARNING = "warning"
_SEVERITY_VI = {ERROR: "lỗi", WARNING: "cảnh báo"}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding: where it is, how bad, which code, what is wrong and how to fix it."""

    path: str  # relative to the site folder, with forward slashes; "" for site-wide problems
    line: int  # 1-based; 0 when the problem has no line
    col: int
    code: str
    severity: str
    message: str
    hint: str = ""

    def format(self) -> str:
        """`path:line:col: lỗi[CODE]: message (cách sửa: hint) [xem: sitegen help CODE]` — the shape editors and CI
        parse."""
        where = self.path or "site"
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        text = f"{where}: {_SEVERITY_VI[self.severity]}[{self.code}]: {self.message}"
        if self.hint:
            text += f" (cách sửa: {self.hint})"
        return text + f" [{self.reference}]"

    @property
    def reference(self) -> str:
        """Where the code is explained: the command that prints its section of the guide."""
        return "xem: " + HELP.format(code=self.code)


class BuildFailed(Exception):
    """Raised when errors were found; carries them so the caller can print them."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


@dataclass
class Reporter:
    """Collects diagnostics for one run. `strict` turns warnings into errors (for CI)."""

    strict: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, path: str, line: int, message: str, hint: str = "", col: int = 0) -> None:
        self._add(Diagnostic(path, line or 0, col or 0, code, ERROR, message, hint))

    def warning(self, code: str, path: str, line: int, message: str, hint: str = "", col: int = 0) -> None:
        severity = ERROR if self.strict else WARNING
        self._add(Diagnostic(path, line or 0, col or 0, code, severity, message, hint))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self._add(d)

    def _add(self, d: Diagnostic) -> None:
        assert d.code in CODES, d.code
        self.diagnostics.append(d)

    @property
    def errors(self) -> list[Diagnostic]:
        return sorted(d for d in self.diagnostics if d.severity == ERROR)

    @property
    def warnings(self) -> list[Diagnostic]:
        return sorted(d for d in self.diagnostics if d.severity == WARNING)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise BuildFailed(self.diagnostics)

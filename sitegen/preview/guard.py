"""Which requests the preview answers: only those addressed to it, from pages it served itself.

The preview shows drafts and embargoed articles. A web page elsewhere can make the editor's browser send requests
to 127.0.0.1 under its own name (DNS rebinding: evil.example resolves to 127.0.0.1 a moment after the page
loaded), and then read the answers, since to the browser they come from evil.example. Such requests carry
`Host: evil.example`, and their websocket handshakes `Origin: http://evil.example`: a request naming any host
but the preview's own address is refused (421), and so is a websocket opened from any other origin (403).
An IP address cannot be rebound, so with `--host 0.0.0.0` (colleagues on the office network) any IP address of
this machine is accepted; names other than localhost are not, whatever they resolve to.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})

WRONG_HOST = ("Bản xem thử chỉ trả lời khi được gọi đúng địa chỉ của nó ({good}), không qua tên miền khác "
              "({seen}). Hãy mở {good}.")
WRONG_ORIGIN = "Bản xem thử không nhận kết nối tự tải lại từ trang của nơi khác ({seen})."


def host_allowed(host: str | None, bound: str, port: int) -> bool:
    """Whether a request's Host header names this server: loopback, the address it listens on (any IP address
    when it listens on all of them), with its port (or none, for port 80). A missing Host (HTTP/1.0, never a
    browser) is allowed: the attack needs a browser."""
    if host is None:
        return True
    parsed = _split(host)
    if parsed is None:
        return False
    name, given_port = parsed
    if given_port is None:
        if port != 80:
            return False
    elif given_port != port:
        return False
    if name in LOOPBACK_NAMES or name == bound.lower().strip("[]"):
        return True
    return bound.strip("[]") in WILDCARDS and _is_ip(name)


def origin_allowed(origin: str | None, bound: str, port: int) -> bool:
    """Whether a websocket handshake comes from a page of this server. Browsers always send Origin with a
    websocket handshake; a program that sends none is not a web page (and could reach the server anyway)."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return False
    netloc = parts.netloc
    if ":" not in netloc.rsplit("]", 1)[-1] and parts.scheme == "https":
        netloc += ":443"
    return host_allowed(netloc, bound, port)


def address(bound: str, port: int) -> str:
    """The address to show the editor, as a browser would write it."""
    name = "127.0.0.1" if bound.strip("[]") in WILDCARDS else bound.strip("[]")
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


def _split(host: str) -> tuple[str, int | None] | None:
    """(lower-case name without brackets, port or None) of a Host header; None when it is not one."""
    host = host.strip().lower()
    if not host or any(c.isspace() or c in "/\\@?#" for c in host):
        return None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[1:end], host[end + 1:]
        if not _is_ip(name):
            return None
    else:
        name, sep, rest = host.partition(":")
        rest = sep + rest
    if rest == "":
        return name.rstrip("."), None
    if not rest.startswith(":") or not rest[1:].isascii() or not rest[1:].isdigit() or len(rest) > 6:
        return None
    return name.rstrip("."), int(rest[1:])


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True

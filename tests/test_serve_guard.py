"""The preview's Host and Origin rules (preview/guard.py), over all the shapes a header can take. The server's
use of them, over HTTP and in a browser, is in test_serve.py."""

from __future__ import annotations

import ipaddress

from hypothesis import given, strategies as st

from sitegen.preview.guard import host_allowed, origin_allowed

PORT = 8000
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
# Names a rebinding page could use: anything with a dot or a plain word, but never localhost or an IP address.
names = st.lists(label, min_size=1, max_size=4).map(".".join).filter(
    lambda n: n != "localhost" and not _ip(n))


def _ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@given(names, st.sampled_from(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::"]), st.booleans())
def test_a_name_other_than_localhost_is_refused_whatever_the_server_listens_on(name, bound, with_port):
    host = f"{name}:{PORT}" if with_port else name
    assert not host_allowed(host, bound, PORT)
    assert not host_allowed(host.upper(), bound, PORT)
    assert not origin_allowed(f"http://{host}", bound, PORT)
    assert not origin_allowed(f"https://{host}", bound, PORT)


@given(st.sampled_from(["127.0.0.1", "localhost", "LocalHost", "[::1]", "localhost."]),
       st.sampled_from(["127.0.0.1", "localhost", "::1"]))
def test_loopback_with_the_right_port_is_answered(name, bound):
    assert host_allowed(f"{name}:{PORT}", bound, PORT)
    assert origin_allowed(f"http://{name}:{PORT}", bound, PORT)


@given(st.integers(min_value=1, max_value=65535).filter(lambda p: p != PORT),
       st.sampled_from(["127.0.0.1", "localhost", "[::1]"]))
def test_another_port_is_refused(port, name):
    assert not host_allowed(f"{name}:{port}", "127.0.0.1", PORT)
    assert not origin_allowed(f"http://{name}:{port}", "127.0.0.1", PORT)


def test_no_port_means_80():
    assert not host_allowed("127.0.0.1", "127.0.0.1", PORT)
    assert host_allowed("127.0.0.1", "127.0.0.1", 80)
    assert origin_allowed("http://localhost", "127.0.0.1", 80)
    assert not origin_allowed("https://localhost", "127.0.0.1", 80)  # https means 443


@given(st.ip_addresses())
def test_listening_on_all_addresses_accepts_ip_addresses_only(ip):
    host = f"[{ip}]:{PORT}" if ip.version == 6 else f"{ip}:{PORT}"
    assert host_allowed(host, "0.0.0.0", PORT)
    assert host_allowed(host, "::", PORT)
    assert host_allowed(host, "127.0.0.1", PORT) == (str(ip) == "127.0.0.1" or str(ip) == "::1")


def test_the_address_given_to_listen_on_is_accepted():
    assert host_allowed("192.168.1.20:8000", "192.168.1.20", PORT)
    assert host_allowed("may-bien-tap.lan:8000", "may-bien-tap.lan", PORT)
    assert not host_allowed("192.168.1.21:8000", "192.168.1.20", PORT)


@given(st.text(max_size=40))
def test_any_header_value_gives_an_answer_not_an_exception(value):
    assert host_allowed(value, "127.0.0.1", PORT) in (True, False)
    assert origin_allowed(value, "127.0.0.1", PORT) in (True, False)


def test_malformed_hosts_and_origins_are_refused():
    for host in ["", "127.0.0.1:", "127.0.0.1:8000x", "127.0.0.1:+8000", "user@127.0.0.1:8000", "127.0.0.1:8000/x",
                 "[::1", "[evil.example]:8000", "127.0.0.1 :8000", "127.0.0.1:٨٠٠٠"]:
        assert not host_allowed(host, "127.0.0.1", PORT), host
    for origin in ["null", "file://", "http://127.0.0.1:8000/page", "ftp://127.0.0.1:8000", "127.0.0.1:8000"]:
        assert not origin_allowed(origin, "127.0.0.1", PORT), origin
    assert host_allowed(None, "127.0.0.1", PORT) and origin_allowed(None, "127.0.0.1", PORT)

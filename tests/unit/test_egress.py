"""The egress policy's two checks without I/O: URL patterns and internal addresses."""

from __future__ import annotations

import pytest

from handlers.health.egress import EgressPolicy, EgressRefused, address_problem

POLICY = EgressPolicy(
    services=frozenset({"https://api.example.com/health"}),
    allow=("https://*.example.com/*", "http://[::1]:8080/*", "http://metrics.internal:*/metrics"),
)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/health",
        "https://www.example.com/",
        "https://a.b.example.com/x?y=1",
        "http://[::1]:8080/status",
        "http://metrics.internal:9100/metrics",
    ],
)
def test_allowed(url: str) -> None:
    POLICY.check_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.com/x.example.com/", "not a configured URL"),
        ("https://example.com.evil.com/", "not a configured URL"),
        ("http://api.example.com/health", "not a configured URL"),  # scheme differs
        ("https://api.example.com:8443/", "not a configured URL"),  # port differs
        ("https://u:p@api.example.com/health", "user:password@"),
        ("http://metrics.internal:9100/other", "not a configured URL"),
        ("http://2130706433/", "unusual spelling"),
        ("http://0x7f000001/", "unusual spelling"),
        ("ftp://api.example.com/health", "only http:// and https://"),
    ],
)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(EgressRefused, match=why):
        POLICY.check_url(url)


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "not a public address"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_internal_addresses(ip: str, problem: str) -> None:
    why = address_problem(ip, allow_private=False)
    assert why is not None
    assert problem in why


def test_allow_private_lifts_all_but_metadata() -> None:
    assert address_problem("10.1.2.3", allow_private=True) is None
    assert address_problem("127.0.0.1", allow_private=True) is None
    assert "metadata" in (address_problem("169.254.169.254", allow_private=True) or "")
    assert address_problem("93.184.216.34", allow_private=False) is None

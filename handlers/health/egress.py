"""Where the bot's HTTP client may go: the configured URLs only, and never to internal addresses.

Every request the shared httpx.Client makes (`/health`, `/health headers`, `/health metrics`,
runbook steps that fetch a URL) passes two checks, both in the transport so no handler can
forget them:

1. The URL: a configured service's health URL, or one matching a `health.allow` pattern
   (`https://*.example.com/*`: scheme, host glob, optional port, path glob). A host spelled as
   a number in an unusual way (`2130706433`, `0x7f.1`, `0177.0.0.1`) is refused outright.
2. The address: the host is resolved once, every address is checked (loopback, private,
   link-local, shared, reserved and multicast ranges are refused unless
   `health.allow_private: true`; cloud metadata addresses always), and the socket connects to
   the address that was checked, so a name that re-resolves elsewhere (DNS rebinding) cannot
   slip past. Redirects are not followed, and no cookie is ever kept between requests.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from handlers.errors import HandlerError
from handlers.redact import redact

# Cloud instance metadata services: never reachable from chat, whatever the config says.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
# Spellings of an IPv4 address that inet_aton accepts but no one writes in a health URL.
_ODD_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}$", re.I)
_DEFAULT_PORT = {"http": 80, "https": 443}

Resolver = Callable[[str, int], list[str]]


class EgressRefused(HandlerError):
    """The bot will not fetch this URL; the message names the config key that would allow it."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def address_problem(ip: str, *, allow_private: bool) -> str | None:
    """Why connecting to this address is refused, or None when it is fine."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr in METADATA:
        return "a cloud metadata address (never allowed)"
    if allow_private:
        return None if not (addr.is_multicast or addr.is_unspecified) else "not a unicast address"
    for test, what in (
        (addr.is_loopback, "a loopback address"),
        (addr.is_link_local, "a link-local address"),
        (addr.is_unspecified, "an unspecified address"),
        (addr.is_multicast, "a multicast address"),
        (addr.is_private, "a private address"),
        (addr.is_reserved, "a reserved address"),
        (not addr.is_global, "not a public address"),
    ):
        if test:
            return what
    return None


@dataclass(frozen=True)
class _Pattern:
    scheme: str
    host: str
    port: str  # "" = the scheme's default, "*" = any
    path: str  # a glob over path?query; "" = any

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in _DEFAULT_PORT:
            raise ValueError(f"{text!r}: a health.allow pattern starts with http:// or https://")
        authority, slash, path = rest.partition("/")
        if "@" in authority or not authority:
            raise ValueError(f"{text!r}: give a host (no user:password@) in a health.allow pattern")
        if authority.startswith("["):  # [::1]:8080
            host, _, rest = authority[1:].partition("]")
            port = rest.removeprefix(":")
        elif ":" in authority:
            host, _, port = authority.rpartition(":")
        else:
            host, port = authority, ""
        if port and port != "*" and not port.isdigit():
            raise ValueError(f"{text!r}: the port must be a number or *")
        return cls(scheme.lower(), host.lower(), port, (slash + path) if slash else "")

    def matches(self, url: httpx.URL) -> bool:
        if url.scheme != self.scheme or not fnmatch.fnmatchcase(url.host.lower(), self.host):
            return False
        port = url.port or _DEFAULT_PORT[url.scheme]
        if self.port != "*" and port != (int(self.port) if self.port else _DEFAULT_PORT[self.scheme]):
            return False
        if not self.path:
            return True
        target = url.raw_path.decode("ascii", "replace")
        return fnmatch.fnmatchcase(target, self.path)


def check_patterns(patterns: Iterable[str]) -> None:
    """Raise ValueError naming the first health.allow pattern that is not a valid URL pattern."""
    for p in patterns:
        _Pattern.parse(p)


@dataclass(frozen=True)
class EgressPolicy:
    """The URLs the bot may fetch and whether private addresses are ok.

    `services`: the services' health URLs (exactly those). `allow`: `health.allow` patterns.
    `endpoints`: base URLs of infrastructure chatops.yaml names (an Alertmanager, a
    Prometheus): anything under them, on private addresses too, since an admin named them and
    no chat member chose them. Cloud metadata addresses are refused for every kind.
    """

    services: frozenset[str] = frozenset()
    allow: tuple[str, ...] = ()
    allow_private: bool = False
    endpoints: tuple[str, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)
    _patterns: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False, default=())
    _exact: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())
    _bases: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _trusted: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        bases = tuple(_normal(u).rstrip("/") for u in self.endpoints)
        trusted = set()
        for u in self.endpoints:
            parsed = httpx.URL(u)
            trusted.add((parsed.host.lower(), parsed.port or _DEFAULT_PORT.get(parsed.scheme, 0)))
        object.__setattr__(self, "_patterns", tuple(_Pattern.parse(p) for p in self.allow))
        object.__setattr__(self, "_exact", frozenset(_normal(u) for u in self.services))
        object.__setattr__(self, "_bases", bases)
        object.__setattr__(self, "_trusted", frozenset(trusted))

    def check_url(self, url: str | httpx.URL) -> None:
        """Refuse a URL that is neither configured nor matched by `health.allow`."""
        parsed = httpx.URL(str(url))
        shown = redact(str(parsed))
        if parsed.scheme not in _DEFAULT_PORT or not parsed.host:
            raise EgressRefused(f"{shown}: only http:// and https:// URLs are fetched")
        if parsed.userinfo:
            raise EgressRefused(f"{shown}: URLs with a user:password@ part are not fetched")
        host = parsed.host
        if _ODD_NUMERIC_HOST.match(host) and not _is_dotted_quad(host):
            raise EgressRefused(
                f"{shown}: the host {host!r} is an IP address in an unusual spelling; write a name "
                "or a dotted address that `health.allow` lists"
            )
        normal = _normal(str(parsed))
        if normal in self._exact or any(p.matches(parsed) for p in self._patterns):
            return
        if any(normal == b or normal.startswith(b + "/") or normal.startswith(b + "?") for b in self._bases):
            return
        port = f":{parsed.port}" if parsed.port else ""
        raise EgressRefused(
            f"{shown} is not a configured URL: the bot fetches only services' health URLs "
            f"(`services.NAME.health`) and URLs matching `health.allow` in chatops.yaml "
            f"(e.g. `{parsed.scheme}://{host}{port}/*`)"
        )

    def pick_address(self, host: str, port: int) -> str:
        """Resolve once; the first address that passes, or EgressRefused naming why none did."""
        private_ok = self.allow_private or (host.lower(), port) in self._trusted
        try:
            ips = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: {exc}") from exc
        problems: list[str] = []
        for ip in ips:
            why = address_problem(ip, allow_private=private_ok)
            if why is None:
                return ip
            problems.append(f"{ip} is {why}")
        if not problems:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: no addresses")
        key = (
            ""
            if all("metadata" in p for p in problems)
            else ("; set `health.allow_private: true` in chatops.yaml to reach internal addresses")
        )
        raise EgressRefused(f"{host} resolves to {', '.join(problems)}: refused{key}")


def _is_dotted_quad(host: str) -> bool:
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False


def _normal(url: str) -> str:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    port = u.port or _DEFAULT_PORT.get(u.scheme, 0)
    return f"{u.scheme}://{u.host.lower()}:{port}{u.raw_path.decode('ascii', 'replace')}"


class _CheckedBackend(httpcore.SyncBackend):
    """Connects to the address the policy checked, never to a second resolution of the name."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        ip = self.policy.pick_address(host, port)
        return super().connect_tcp(ip, port, timeout, local_address, socket_options)


class EgressTransport(httpx.HTTPTransport):
    """httpx's transport with the URL check before each request and the address check on connect.

    TLS still verifies the certificate against the URL's host name (httpcore passes the
    origin's host as server_hostname), only the TCP connection goes to the checked address.
    """

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(trust_env=False)
        self.policy = policy
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_CheckedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(request.url)
        return super().handle_request(request)


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing: one user's /health never sends another's session."""

    def __init__(self) -> None:
        super().__init__(policy=DefaultCookiePolicy(allowed_domains=[]))

    def set_cookie(self, cookie: Cookie) -> None:
        return

    def extract_cookies(self, response: Any, request: Any) -> None:
        return


def egress_client(policy: EgressPolicy, *, timeout: float = 10.0, connect: float = 3.0) -> httpx.Client:
    """The bot's one HTTP client: checked URLs and addresses, no redirects, no proxies, no cookies."""
    return httpx.Client(
        transport=EgressTransport(policy),
        timeout=httpx.Timeout(timeout, connect=connect),
        follow_redirects=False,
        trust_env=False,
        cookies=NoCookies(),  # a CookieJar is kept as is (httpx.Cookies would be copied)
    )

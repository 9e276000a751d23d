"""bot.httpconn decides when a request has fully arrived from its framing alone: every strict
prefix of a request is incomplete, the whole request is complete, and a body over the cap is
refused however it is framed (Content-Length or chunks of any sizes)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.httpconn import Verdict, request_state

HEAD = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n"


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out, pos = b"", 0
    for size in sizes:
        piece = body[pos : pos + size]
        if not piece:
            break
        out += b"%x;ext=1\r\n%s\r\n" % (len(piece), piece)
        pos += len(piece)
    if pos < len(body):
        out += b"%x\r\n%s\r\n" % (len(body) - pos, body[pos:])
    return out + b"0\r\n\r\n"


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=300), sizes=st.lists(st.integers(1, 50), max_size=12))
def test_a_chunked_request_is_complete_exactly_at_its_end(body: bytes, sizes: list[int]) -> None:
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, sizes)
    assert request_state(request)[0] == Verdict.COMPLETE
    for cut in range(len(request)):
        assert request_state(request[:cut])[0] == Verdict.INCOMPLETE, cut


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300))
def test_a_content_length_request_is_complete_exactly_at_its_end(body: bytes) -> None:
    request = HEAD + b"content-length: %d\r\n\r\n" % len(body) + body
    assert request_state(request)[0] == Verdict.COMPLETE
    for cut in range(len(request)):
        assert request_state(request[:cut])[0] == Verdict.INCOMPLETE, cut


@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_a_body_over_the_cap_is_refused_however_it_is_chunked(sizes: list[int]) -> None:
    body = b"x" * 200
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, sizes)
    assert request_state(request, max_body=199)[0].startswith("413")
    assert request_state(HEAD + b"Content-Length: 200\r\n\r\n", max_body=199)[0].startswith("413")


def test_framing_errors_and_an_oversized_head() -> None:
    assert request_state(HEAD + b"Content-Length: ten\r\n\r\n")[0].startswith("400")
    assert request_state(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")[0].startswith("400")
    assert request_state(HEAD + b"X: " + b"a" * 100, max_head=64)[0].startswith("431")
    assert request_state(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")[0] == Verdict.COMPLETE

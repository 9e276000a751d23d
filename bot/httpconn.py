"""Connections that hold no worker thread until their request has fully arrived.

cheroot hands a connection to one of its worker threads as soon as the first byte arrives,
and the worker then blocks reading the rest: 16 clients sending a header byte every few
seconds (slowloris) take all 16 workers, and `/healthz`, Slack and the alert webhooks wait.
Here a connection first gathers its request head and body without blocking, going back to
cheroot's selector between reads, so a slow client costs a socket and a buffer, not a thread.
It is given to cheroot's own parser only once the whole request is in memory.

Bounds, all answered before the body is read: a head over MAX_HEAD bytes gets 431; a
`Content-Length` over MAX_BODY, or a chunked body growing past it, gets 413; a request not
complete REQUEST_DEADLINE seconds after its first byte gets 408. An idle connection is closed
by cheroot after the server's `timeout`.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

from cheroot import makefile, server

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024  # 1 MiB: Slack payloads and alert webhooks are far smaller
REQUEST_DEADLINE = 10  # seconds from a request's first byte to its last
GATHER_LIMIT = MAX_HEAD + 2 * MAX_BODY  # bytes held for one request, framing included
DISCARD_LIMIT, DISCARD_SECONDS = 8 * MAX_BODY, 2.0  # read out after an error answer, then close

_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\S*)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*chunked", re.IGNORECASE | re.MULTILINE)
_EXPECT = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE | re.MULTILINE)


class Reader(makefile.StreamReader):
    """cheroot's socket reader that can hand back what it buffered and take bytes to replay.

    It is `_pyio.BufferedReader` underneath, whose buffer is `_read_buf[_read_pos:]`.
    """

    def take_buffered(self) -> bytes:
        me: Any = self
        with me._read_lock:
            data = bytes(me._read_buf[me._read_pos :])
            me._read_buf, me._read_pos = b"", 0
        return data

    def replay(self, data: bytes) -> None:
        me: Any = self
        with me._read_lock:
            me._read_buf = data + me._read_buf[me._read_pos :]
            me._read_pos = 0


class Verdict:
    """What the gathered bytes amount to so far."""

    INCOMPLETE, COMPLETE = "incomplete", "complete"


def request_state(buf: bytes, *, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> tuple[str, int]:
    """(state, head length): incomplete, complete, or an HTTP error status to answer with.

    Only framing is read here (where the head ends, the body's length or its chunks); cheroot
    parses the request itself afterwards.
    """
    start = 2 if buf.startswith(b"\r\n") else 0  # one leading CRLF is allowed (RFC 9112 2.2)
    end = buf.find(b"\r\n\r\n", start)
    if end < 0:
        return ("431 Request Header Fields Too Large" if len(buf) > max_head else Verdict.INCOMPLETE), 0
    head_len = end + 4
    if head_len > max_head:
        return "431 Request Header Fields Too Large", head_len
    head = buf[:head_len]
    if _CHUNKED.search(head):
        return _chunked_state(buf, head_len, max_body), head_len
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        return Verdict.COMPLETE, head_len
    try:
        length = int(match.group(1))
    except ValueError:
        return "400 Bad Request", head_len
    if length < 0:
        return "400 Bad Request", head_len
    if length > max_body:
        return "413 Content Too Large", head_len
    return (Verdict.COMPLETE if len(buf) - head_len >= length else Verdict.INCOMPLETE), head_len


def _chunked_state(buf: bytes, pos: int, max_body: int) -> str:
    """Walk the chunks: complete after the last (size 0) chunk and its trailer."""
    size_total = 0
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return "400 Bad Request" if len(buf) - pos > 1024 else Verdict.INCOMPLETE
        try:
            size = int(buf[pos:line_end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            return "400 Bad Request"
        size_total += size
        if size < 0:
            return "400 Bad Request"
        if size_total > max_body:
            return "413 Content Too Large"
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", pos - 2)
            return Verdict.COMPLETE if trailer_end >= 0 else Verdict.INCOMPLETE
        if len(buf) < pos + size + 2:
            return Verdict.INCOMPLETE
        pos += size + 2


class GatheringConnection(server.HTTPConnection):
    """An HTTPConnection that reads its request without blocking before cheroot parses it."""

    deadline: float = REQUEST_DEADLINE  # HttpServer sets its own on a subclass

    def __init__(self, srv: Any, sock: socket.socket, makefile: Any = None) -> None:
        super().__init__(srv, sock) if makefile is None else super().__init__(srv, sock, makefile)
        if isinstance(sock, socket.socket):  # TLS sockets keep cheroot's own reader
            self.rfile = Reader(sock, "rb", self.rbufsize)
        self._buf = bytearray()
        self._first_byte: float | None = None
        self._continued = False
        self._closing_since: float | None = None  # answered an error; reading out the rest
        self._discarded = 0

    def communicate(self) -> bool:
        if not isinstance(self.rfile, Reader):
            return bool(super().communicate())  # type: ignore[no-untyped-call]
        if self._closing_since is not None:
            return self._discard()
        self._buf += self.rfile.take_buffered()
        alive = True
        if not self._buf or not self._gathered_enough():
            alive = self._read_available()
        if self._buf and self._first_byte is None:
            self._first_byte = time.monotonic()
        state, head_len = request_state(bytes(self._buf))
        if state == Verdict.INCOMPLETE and len(self._buf) > GATHER_LIMIT:
            state = "413 Content Too Large"  # a chunked body framed in tiny chunks
        if state == Verdict.INCOMPLETE and not alive:
            return False  # the client closed (or failed) before its request was complete
        if state == Verdict.INCOMPLETE:
            if self._first_byte is not None and time.monotonic() - self._first_byte > self.deadline:
                return self._answer("408 Request Timeout", b"the request did not arrive in time\n")
            if not self._continued and _EXPECT.search(bytes(self._buf[:head_len])) and head_len:
                # The client waits for this before it sends the body (curl does, above 1 KiB).
                self._continued = True
                self.socket.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            return True  # back to the selector: no worker waits for the rest
        if state != Verdict.COMPLETE:
            return self._answer(state, state.split(" ", 1)[1].lower().encode() + b"\n")
        data = bytes(self._buf)
        if self._continued:  # cheroot must not send a second 100 Continue
            data = _EXPECT.sub(b"", data[:head_len], count=1) + data[head_len:]
        self._buf, self._first_byte, self._continued = bytearray(), None, False
        self.rfile.replay(data)
        return bool(super().communicate())  # type: ignore[no-untyped-call]

    def _gathered_enough(self) -> bool:
        return request_state(bytes(self._buf))[0] != Verdict.INCOMPLETE

    def _read_available(self) -> bool:
        """Read what the socket has without waiting; False once the peer closed or failed (what
        arrived before is kept: a client may half-close after sending its whole request)."""
        sock: socket.socket = self.socket
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            while len(self._buf) <= GATHER_LIMIT:
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    return True
                except OSError:
                    return False
                if not chunk:
                    return False
                self._buf += chunk
            return True
        finally:
            sock.settimeout(timeout)

    def _answer(self, status: str, body: bytes) -> bool:
        """Send an error and half-close; keep reading out what the client still sends for a moment,
        so closing with unread bytes does not reset the connection before it reads the answer."""
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("ascii")
        try:
            self.socket.sendall(head + body)
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        self._buf = bytearray()
        self._closing_since = time.monotonic()
        return True  # back to the selector, in the closing state

    def _discard(self) -> bool:
        """Read and drop (at most DISCARD_LIMIT bytes, DISCARD_SECONDS); False closes the socket."""
        alive = self._read_available()
        dropped = len(self._buf)
        self._buf = bytearray()
        self._discarded += dropped
        expired = time.monotonic() - (self._closing_since or 0.0) > DISCARD_SECONDS
        return alive and not expired and self._discarded < DISCARD_LIMIT

"""The boards' cache: a board's block (the HTML fragment every viewer of one kind sees alike),
rendered once and kept compressed, held by the application — ``create_app()`` makes one
``BoardCache`` and keeps it on ``app.state.board_cache``; handlers reach it through ``BoardCacheDep``.

Nothing lives at module level, so two applications (two tests, two databases in one process) never
serve each other's boards. What is cached is only the block: the page around it — the CSRF token,
the user's name and menu, anything per user — is rendered for each request (app/boards/pages.py).

Served like a static page: the block is kept as a raw deflate segment ended by a sync flush (whole
bytes, no final-block bit), so a page is one gzip stream made of the head compressed now, the kept
segment, and the tail compressed now with the stream's end (:func:`gzip_around`) — the block is
never decompressed nor compressed again per request. The gzip trailer's CRC-32 runs over the whole
page: zlib.crc32 chained over head, the block's kept bytes and tail (Python's zlib has no
crc32_combine; 40 KB of C crc32 is a few microseconds).

The key names everything the block depends on: the database (its URL without password), the
figures' ``version`` (boards.service.version of the units shown), the period, the viewer kind, the
board (template) and organisation, and the URL prefix its links use. Slow-moving things outside the
rollup's stamps (a renamed organisation) are bounded by the time-to-live
(``settings.board_cache_seconds``); the number of blocks by an LRU bound. Small values the page
around a block needs and that change as rarely (an organisation's crumbs) are kept the same way
(:meth:`BoardCache.kept`), so a board whose figures did not change reads one row: its version.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import astuple, dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Request
from markupsafe import Markup

# Who is looking decides what the block may show: staff of the organisation (the 未参与委员名单 link),
# anyone else signed in with a reading role (members, leaders, viewers). The meeting room's screen has
# slides of its own (app/meeting/slides.py).
ViewerKind = Literal["staff", "reader"]
T = TypeVar("T")

# Boards × periods × viewer kinds people actually open; a block is kept twice, ~20–60 KB as HTML and
# ~5–20 KB compressed (as a deflate segment and as a whole gzip answer for htmx): ≤ ~25 MB in all.
DEFAULT_SIZE = 256
# A thread waiting for another's render of the same block looks again after this long at most.
RENDER_WAIT_SECONDS = 60
LEVEL = 6  # zlib's default: the per-request head and tail are a few KB, the block is compressed once
# gzip's header (RFC 1952) as gzip.compress(mtime=0) writes it, OS "unknown": every process sends the
# same bytes for the same page.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty fixed-Huffman deflate block: ends a stream of segments


@dataclass(frozen=True)
class BoardKey:
    """Everything a board's block depends on (see the module docstring)."""

    database: str
    version: int
    period: str
    viewer: ViewerKind
    board: str  # the template: overview or county
    org_id: int
    base: str  # the prefix of the block's own links: /boards or /c


def deflate_segment(data: bytes, *, last: bool = False) -> bytes:
    """``data`` as raw deflate (no header), ended by a sync flush — whole bytes, so another segment may
    follow — or, ``last``, by the stream's final block."""
    c = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _gzip_trailer(crc: int, size: int) -> bytes:
    return struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)


@dataclass(frozen=True)
class Block:
    """One rendered block: its HTML bytes, the same as a deflate segment (:func:`gzip_around`) and as a
    whole gzip answer (htmx's swap), and its strong ETag (of the uncompressed representation)."""

    raw: bytes
    deflate: bytes
    gz: bytes
    etag: str
    made_at: float

    @classmethod
    def of(cls, html: str, *, etag: str, made_at: float) -> Block:
        raw = html.encode("utf-8")
        deflate = deflate_segment(raw)
        gz = GZIP_HEADER + deflate + FINAL_EMPTY_BLOCK + _gzip_trailer(zlib.crc32(raw), len(raw))
        return cls(raw=raw, deflate=deflate, gz=gz, etag=etag, made_at=made_at)

    def html(self) -> Markup:
        return Markup(self.raw.decode("utf-8"))

    @property
    def gzip_etag(self) -> str:
        return gzip_tag(self.etag)


def gzip_tag(etag: str) -> str:
    """A strong validator names one representation: the gzip-coded bytes get a tag of their own."""
    return etag[:-1] + '-gz"'


def gzip_around(head: bytes, block: Block, tail: bytes) -> bytes:
    """The gzip stream of ``head + block + tail``: one header, the head and tail compressed now, the
    block's kept segment between them, the CRC-32 and length of the whole."""
    crc = zlib.crc32(tail, zlib.crc32(block.raw, zlib.crc32(head)))
    return b"".join((GZIP_HEADER, deflate_segment(head), block.deflate, deflate_segment(tail, last=True),
                     _gzip_trailer(crc, len(head) + len(block.raw) + len(tail))))


def page_etag(block: Block, frame: bytes) -> str:
    """Strong, quoted: a whole page's tag from its block's tag and the page around the block (``frame``,
    the per-user part: head and tail as the page reads with the session's CSRF token itself, see
    app/boards/pages.py). Equal pages get equal tags in every process, and the block is not read."""
    h = hashlib.blake2b(digest_size=16)
    h.update(block.etag.encode("ascii"))
    h.update(b"\0")
    h.update(frame)
    return '"p-' + h.hexdigest() + '"'


def block_etag(key: BoardKey, html: str) -> str:
    """Strong, quoted: the key's digest mixed with the HTML's. Within the time-to-live the HTML is a
    function of the key; after it a block re-rendered differently (a name changed without a version
    bump) gets a new tag, so a client revalidating never keeps a stale board beyond the time-to-live."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(astuple(key)).encode("utf-8"))
    h.update(b"\0")
    h.update(html.encode("utf-8"))
    return '"b-' + h.hexdigest() + '"'


class BoardCache:
    """Blocks by ``BoardKey``: least recently used out beyond ``size``, each kept ``ttl_seconds``
    (0 or less: nothing kept, every request renders). Safe across the threads that serve requests."""

    def __init__(self, *, ttl_seconds: float, size: int = DEFAULT_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.size = size
        self._clock = clock  # monotonic, not the wall clock: only durations matter here
        self._blocks: OrderedDict[BoardKey, Block] = OrderedDict()
        self._values: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._rendering: dict[BoardKey, threading.Event] = {}  # set when the key's render ends
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._blocks)

    def __contains__(self, key: object) -> bool:
        return key in self._blocks

    def block(self, key: BoardKey, render: Callable[[], str]) -> Block:
        """The block of ``key``: kept, or ``render()``-ed now (outside the lock: a slow board must not
        hold up the others), compressed and kept.

        One render per key at a time: a board of a big province takes seconds to compute, and the
        viewers polling it all ask at once when its version moves. While one thread renders, the others
        wait for its block — or, when the time-to-live has only run out (the figures are the same),
        get the block kept so far at once."""
        if self.ttl <= 0:  # nothing kept: every request renders (bench/boards.py's computed figures)
            with self._lock:
                self.misses += 1
            html = render()
            return Block.of(html, etag=block_etag(key, html), made_at=self._clock())
        while True:
            now = self._clock()
            with self._lock:
                hit = self._blocks.get(key)
                if hit is not None and now - hit.made_at < self.ttl:
                    self._blocks.move_to_end(key)
                    self.hits += 1
                    return hit
                rendering = self._rendering.get(key)
                if rendering is None:
                    self._rendering[key] = threading.Event()
                    self.misses += 1
                    break
                if hit is not None:  # out of its time, being renewed: the figures are this key's still
                    self.hits += 1
                    return hit
            rendering.wait(RENDER_WAIT_SECONDS)  # then look again (a failed render leaves no block)
        try:
            html = render()
            block = Block.of(html, etag=block_etag(key, html), made_at=now)
            with self._lock:
                self._blocks[key] = block
                self._blocks.move_to_end(key)
                while len(self._blocks) > self.size:
                    self._blocks.popitem(last=False)
            return block
        finally:
            with self._lock:
                self._rendering.pop(key).set()

    def kept(self, key: Hashable, make: Callable[[], T]) -> T:
        """A small value the page around a block needs (the crumbs of an organisation), kept like a
        block: ``make()``-d again after the time-to-live, least recently used out beyond ``size``."""
        now = self._clock()
        with self._lock:
            hit = self._values.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._values.move_to_end(key)
                return hit[1]
        value = make()
        if self.ttl > 0:
            with self._lock:
                self._values[key] = (now, value)
                self._values.move_to_end(key)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._values.clear()


async def board_cache(request: Request) -> BoardCache:
    """The application's board cache (made by ``create_app()``). ``async``: FastAPI runs a plain
    function dependency in a worker thread, a hop this attribute read does not need."""
    return request.app.state.board_cache


BoardCacheDep = Annotated[BoardCache, Depends(board_cache)]

"""The boards' cache belongs to the application: each board's block, compressed, keyed by database,
figures' version, period, viewer kind and board; the page around it (CSRF token, name) per request;
ETag / 304 for the block and for the page; bounded size and time-to-live."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.boards import service as boards
from app.boards.cache import BoardCache, BoardKey
from app.clock import today_cn
from app.db import get_session, get_write_session
from app.deps import CurrentUser, OrgForRead
from app.models import ActivityStatus
from tests import factories as f

pytestmark = pytest.mark.dates

COUNTY = "530102"  # 五华区, a key county here
CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
# Lean: how a page is put together does not depend on the database (the other tests here run on both).
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _app(new_app: Callable[[], FastAPI], session: Session) -> FastAPI:
    app = new_app()
    app.dependency_overrides[get_session] = lambda: session
    app.dependency_overrides[get_write_session] = lambda: session
    return app


def _returning(session: Session) -> Callable[[], Session]:
    """A dependency override answering ``session`` (a default argument would become a query parameter)."""
    return lambda: session


def _record(session: Session, count: int) -> None:
    """One verified activity in 五华区 this month, of ``count`` people helped (the task's count indicator)."""
    wuhua = f.org(session, COUNTY)
    wuhua.is_key_county = True
    task = f.task(session, 7)
    indicator = next(i for i in f.indicators(session, task) if i.kind == "count")
    recorder = f.make_user(session)
    f.make_activity(session, recorder=recorder, credited=wuhua, county=wuhua, task_=task,
                    values={indicator.id: count}, occurred_on=today_cn(), status=ActivityStatus.verified)


def _period() -> str:
    return f.month_key(today_cn())


def _board(client: TestClient, *, htmx: bool = False, **headers: str) -> httpx.Response:
    if htmx:
        headers["HX-Request"] = "true"
    return client.get(f"/boards/{COUNTY}?period={_period()}", headers=headers)


@contextmanager
def _signed_in(app: FastAPI, session: Session, kind: str = "viewer") -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, base_url="http://testserver") as client:
        token = f.login_as(client, session, f.persona(session, kind))
        yield client, token


# --- two tests, one board, different data: each sees its own -------------------------------------
# Both run on the shared database, each in its own rolled-back transaction, so the board's key
# (organisation, period, figures' version) is the same in both: only an application-held cache
# keeps them apart.

def test_a_board_shows_this_tests_figures(session, new_app):
    _record(session, 4321)
    with _signed_in(_app(new_app, session), session) as (client, _):
        page = _board(client)
    assert page.status_code == 200 and "4,321" in page.text and "8,765" not in page.text


def test_the_same_board_shows_another_tests_figures(session, new_app):
    _record(session, 8765)
    with _signed_in(_app(new_app, session), session) as (client, _):
        page = _board(client)
    assert page.status_code == 200 and "8,765" in page.text and "4,321" not in page.text


@pytest.fixture
def second_session(backend, tmp_path) -> Iterator[Session]:
    """A second database of the same backend holding the real province, in a rolled-back transaction."""
    from tests.conftest import province_engine, rolled_back_session, temporary_database

    with (temporary_database(backend, tmp_path) as url, province_engine(url) as engine,
          rolled_back_session(engine) as s):
        yield s


def test_two_databases_keep_their_own_boards_in_either_order(session, second_session, new_app):
    _record(session, 4321)
    _record(second_session, 8765)
    first, second = ((session, "4,321", "8,765"), (second_session, "8,765", "4,321"))
    # The same organisation and figures' version in both: only the database tells the blocks apart.
    units = [("place", f.org(session, COUNTY).id), ("org", f.org(session, COUNTY).id)]
    assert f.org(session, COUNTY).id == f.org(second_session, COUNTY).id
    assert boards.version(session, units) == boards.version(second_session, units)

    for order in ((first, second), (second, first)):
        # Two applications, one per database.
        for s, mine, theirs in order:
            with _signed_in(_app(new_app, s), s) as (client, _):
                text = _board(client).text
            assert mine in text and theirs not in text
        # One application whose requests reach either database: its cache keeps them apart.
        shared = _app(new_app, session)
        for s, mine, theirs in order:
            shared.dependency_overrides[get_session] = _returning(s)
            with _signed_in(shared, s) as (client, _):
                text = _board(client).text
            assert mine in text and theirs not in text
        assert len(shared.state.board_cache) == 2


# --- the page around the block is per request ---------------------------------------------------

def test_each_user_gets_their_own_csrf_token_around_a_shared_block(session, new_app):
    from app.auth.csrf import unmask

    _record(session, 4321)
    app = _app(new_app, session)
    cache: BoardCache = app.state.board_cache
    with _signed_in(app, session) as (alice, alice_token), _signed_in(app, session) as (bob, bob_token):
        first = _board(alice)
        assert (cache.misses, cache.hits) == (1, 0)
        second = _board(bob)
        assert (cache.misses, cache.hits) == (1, 1)  # bob's page wraps the block alice's made
    assert alice_token != bob_token
    # Each page carries its user's token, masked afresh (app/auth/csrf.py), never the other's.
    assert unmask(CSRF.search(first.text).group(1)) == alice_token.encode() and bob_token not in first.text
    assert unmask(CSRF.search(second.text).group(1)) == bob_token.encode() and alice_token not in second.text
    (block,) = cache._blocks.values()
    html = block.html()
    assert "4,321" in html and alice_token not in html and bob_token not in html and "<html" not in html
    assert first.headers["etag"] != second.headers["etag"]  # the pages differ by their per-user part


def test_staff_and_readers_get_blocks_of_their_own(session, new_app):
    _record(session, 4321)
    app = _app(new_app, session)
    with _signed_in(app, session, "county_staff") as (staff, _), _signed_in(app, session, "viewer") as (reader, _):
        assert "未参与委员名单" in _board(staff).text
        assert "未参与委员名单" not in _board(reader).text
    assert sorted(k.viewer for k in app.state.board_cache._blocks) == ["reader", "staff"]


def test_a_change_of_the_figures_makes_a_new_block(session, new_app):
    _record(session, 4321)
    app = _app(new_app, session)
    with _signed_in(app, session) as (client, _):
        before = _board(client, htmx=True)
        _record(session, 1000)  # the version moves
        after = _board(client, htmx=True)
    assert "4,321" in before.text and "5,321" in after.text
    assert before.headers["etag"] != after.headers["etag"]
    assert len(app.state.board_cache) == 2


# --- validators ---------------------------------------------------------------------------------

def test_a_fragment_answers_304_while_the_block_is_unchanged(session, new_app):
    _record(session, 4321)
    app = _app(new_app, session)
    with _signed_in(app, session) as (client, _):
        plain = _board(client, htmx=True, **{"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.headers["cache-control"] == "private, no-cache" and "<html" not in plain.text
        tag = plain.headers["etag"]
        assert re.fullmatch(r'"[^"]+"', tag) and not tag.startswith("W/")  # strong, quoted
        again = _board(client, htmx=True, **{"Accept-Encoding": "identity", "If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag

        # Taken as gzip: the kept bytes themselves, under a tag of their own.
        zipped = client.get(f"/boards/{COUNTY}?period={_period()}", headers={"HX-Request": "true",
                                                                             "Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["etag"] != tag
        assert zipped.text == plain.text
        block = next(iter(app.state.board_cache._blocks.values()))
        assert gzip.decompress(block.gz).decode() == plain.text

        _record(session, 1)  # a change: the old tag no longer matches
        changed = _board(client, htmx=True, **{"Accept-Encoding": "identity", "If-None-Match": tag})
        assert changed.status_code == 200 and "4,322" in changed.text and changed.headers["etag"] != tag


def test_a_whole_page_answers_304_only_to_its_own_user(session, new_app):
    _record(session, 4321)
    app = _app(new_app, session)
    with _signed_in(app, session) as (alice, _), _signed_in(app, session) as (bob, _):
        page = _board(alice)
        tag = page.headers["etag"]
        assert page.headers["cache-control"] == "private, no-cache"
        assert _board(alice, **{"If-None-Match": tag}).status_code == 304
        # bob's page holds his own token: alice's tag never spares him his page.
        other = _board(bob, **{"If-None-Match": tag})
        assert other.status_code == 200 and other.headers["etag"] != tag and "4,321" in other.text


def test_a_meeting_slide_revalidates_and_keeps_the_display_headers(session, new_app):
    from app.auth.service import build_principal
    from app.screens.service import create_screen

    _record(session, 4321)
    staff = f.persona(session, "prefecture_staff")
    _, token = create_screen(session, build_principal(session, staff, ip="test", today=today_cn()),
                           name="会议室", org_id=f.org(session, "530100").id)
    with TestClient(_app(new_app, session), base_url="http://testserver") as screen:
        url = f"/d/{token}/slide/{COUNTY}?part=place-2&period={_period()}"  # task 7: the figures' 2nd slide
        slide = screen.get(url, headers={"HX-Request": "true"})
        assert slide.status_code == 200 and "4,321" in slide.text
        assert slide.headers["cache-control"] == "no-store" and slide.headers["referrer-policy"] == "no-referrer"
        again = screen.get(url, headers={"HX-Request": "true", "If-None-Match": slide.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "no-store"


# --- the cache itself ---------------------------------------------------------------------------

def _key(n: int, version: int = 1) -> BoardKey:
    return BoardKey(database="sqlite:///x.db", version=version, period="2027-ytd12", viewer="reader",
                    board="boards/overview.html", org_id=n, base="/boards")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_cache_keeps_the_most_recently_used_blocks_up_to_its_size():
    cache = BoardCache(ttl_seconds=60, size=2, clock=FakeClock())
    made: list[int] = []

    def render(n: int) -> Callable[[], str]:
        def make() -> str:
            made.append(n)
            return f"<section>{n}</section>"
        return make

    cache.block(_key(1), render(1))
    cache.block(_key(2), render(2))
    cache.block(_key(1), render(1))  # 1 is now the most recent
    cache.block(_key(3), render(3))  # 2 goes
    assert len(cache) == 2 and _key(1) in cache and _key(3) in cache and _key(2) not in cache
    assert cache.block(_key(2), render(2)).html() == "<section>2</section>"
    assert made == [1, 2, 3, 2]


def test_blocks_live_for_the_time_to_live_and_a_ttl_of_zero_keeps_none():
    clock = FakeClock()
    cache = BoardCache(ttl_seconds=60, clock=clock)
    calls: list[str] = []
    first = cache.block(_key(1), lambda: calls.append("a") or "<p>a</p>")
    clock.t += 59
    assert cache.block(_key(1), lambda: calls.append("b") or "<p>b</p>") is first
    clock.t += 2
    renewed = cache.block(_key(1), lambda: calls.append("c") or "<p>c</p>")
    assert calls == ["a", "c"] and renewed.html() == "<p>c</p>" and renewed.etag != first.etag

    off = BoardCache(ttl_seconds=0, clock=clock)
    off.block(_key(1), lambda: "<p>x</p>")
    assert len(off) == 0

    # The crumbs around a block are kept the same way.
    crumbs = [cache.kept(("crumbs", 1), lambda: calls.append("d") or ("省",))]
    clock.t += 59
    crumbs.append(cache.kept(("crumbs", 1), lambda: calls.append("e") or ("改名",)))
    clock.t += 2
    crumbs.append(cache.kept(("crumbs", 1), lambda: calls.append("f") or ("改名",)))
    assert crumbs == [("省",), ("省",), ("改名",)] and calls[2:] == ["d", "f"]
    assert off.kept(("crumbs", 1), lambda: 1) == 1 and off.kept(("crumbs", 1), lambda: 2) == 2


def test_the_etag_follows_the_key():
    cache = BoardCache(ttl_seconds=60, clock=FakeClock())
    a = cache.block(_key(1, version=1), lambda: "<p>same</p>")
    b = cache.block(_key(1, version=2), lambda: "<p>same</p>")
    assert a.etag != b.etag and a.gzip_etag != a.etag
    assert a.etag == BoardCache(ttl_seconds=60).block(_key(1, version=1), lambda: "<p>same</p>").etag


# --- a page served from its parts: the block's kept deflate segment between a head and a tail -----

def _raw(client: TestClient, url: str, **headers: str) -> tuple[httpx.Headers, bytes]:
    """The answer's headers and its bytes as sent (``.content`` would be decoded from gzip)."""
    with client.stream("GET", url, headers=headers) as r:
        return r.headers, b"".join(r.iter_raw())


def _unmasked(html: str) -> str:
    """The page with its masked CSRF tokens (fresh each time, app/auth/csrf.py) taken back off."""
    from app.auth.csrf import unmask

    def plain(m: re.Match) -> str:
        return m.group(1) + unmask(m.group(2)).decode() + m.group(3)

    html = re.sub(r'("X-CSRF-Token": ")([^"]+)(")', plain, html)
    return re.sub(r'(name="csrf_token" value=")([^"]+)(")', plain, html)


@SQLITE
def test_the_spliced_page_is_the_page_rendered_the_ordinary_way(session, new_app):
    from app.boards import pages, periods
    from app.orgs.service import ancestors
    from app.web import render

    _record(session, 4321)
    app = _app(new_app, session)

    # Annotations of this module's names: FastAPI reads them as strings (``from __future__ import annotations``).
    @app.get("/ordinary/{code}")
    def ordinary(request: Request, by: CurrentUser, org: OrgForRead, period: str):
        # The whole template, the block rendered in place from the figures: no cache, no splice.
        p = periods.parse(period)
        version = boards.version(session, [("org", org.id)])
        ctx = pages._overview_context(session, org, p, base="/boards", version=version)
        return render(request, "boards/overview.html", ctx | {
            "org": org, "ancestors": ancestors(session, org.id), "choices": periods.choices(), "staff": False})

    with _signed_in(app, session) as (client, _):
        url = f"/boards/{COUNTY}?period={_period()}"
        spliced = _raw(client, url, **{"Accept-Encoding": "gzip"})
        plain = _raw(client, url, **{"Accept-Encoding": "identity"})
        expected = client.get(f"/ordinary/{COUNTY}?period={_period()}", headers={"Accept-Encoding": "identity"})
    assert spliced[0]["content-encoding"] == "gzip" and "content-encoding" not in plain[0]
    page = gzip.decompress(spliced[1]).decode()
    assert "4,321" in page and page.startswith("<!doctype html>") and "board-slot" not in page
    assert _unmasked(page) == _unmasked(plain[1].decode()) == _unmasked(expected.text)
    # The block is not compressed again for the page: its kept segment is in the answer as it is.
    (block,) = app.state.board_cache._blocks.values()
    assert block.deflate in spliced[1] and block.raw in plain[1]


@SQLITE
def test_the_page_tag_is_the_same_in_every_process_and_answers_304_without_the_block(session, new_app):
    from app.deps import SESSION_COOKIE

    _record(session, 4321)
    workers = [_app(new_app, session), _app(new_app, session)]  # two processes: two caches
    with _signed_in(workers[0], session) as (first, _), TestClient(workers[1]) as second:
        second.cookies.set(SESSION_COOKIE, first.cookies.get(SESSION_COOKIE))
        gz = _board(first, **{"Accept-Encoding": "gzip"})
        plain = _board(second, **{"Accept-Encoding": "identity"})
        tag, plain_tag = gz.headers["etag"], plain.headers["etag"]
        assert re.fullmatch(r'"p-[0-9a-f]+-gz"', tag) and plain_tag == tag.replace("-gz", "")
        assert "accept-encoding" in gz.headers["vary"].lower()
        # The other process knows the gzip page's tag, and the first the plain one's.
        assert _board(second, **{"Accept-Encoding": "gzip", "If-None-Match": tag}).status_code == 304
        again = _board(first, **{"Accept-Encoding": "identity", "If-None-Match": plain_tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == plain_tag
        # A tag of the other coding is not this representation's.
        assert _board(first, **{"Accept-Encoding": "identity", "If-None-Match": tag}).status_code == 200
        # The block's kept bytes answer a 304 in a process that has them, without rendering them again.
        cache: BoardCache = workers[1].state.board_cache
        misses = cache.misses
        assert _board(second, **{"Accept-Encoding": "gzip", "If-None-Match": tag}).status_code == 304
        assert cache.misses == misses
        _record(session, 1)  # the figures move: the tag does
        moved = _board(second, **{"Accept-Encoding": "gzip", "If-None-Match": tag})
        assert moved.status_code == 200 and moved.headers["etag"] != tag and "4,322" in moved.text


def test_gzip_around_makes_one_stream_of_head_kept_block_and_tail():
    import os

    from app.boards.cache import Block, gzip_around

    block = Block.of("<section>" + "板块" * 3000 + os.urandom(500).hex() + "</section>", etag='"b"', made_at=0)
    assert gzip.decompress(block.gz) == block.raw
    for head, tail in ((b"", b""), (b"<html><body>", b"</body></html>"), (os.urandom(4000), b"x" * 70_000)):
        assert gzip.decompress(gzip_around(head, block, tail)) == head + block.raw + tail


def test_one_render_per_block_at_a_time_and_the_others_wait_or_get_the_one_kept_so_far():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    clock = FakeClock()
    cache = BoardCache(ttl_seconds=60, clock=clock)
    started, release = threading.Event(), threading.Event()
    renders: list[str] = []

    def slow(text: str) -> Callable[[], str]:
        def make() -> str:
            renders.append(text)
            started.set()
            assert release.wait(10)
            return text
        return make

    with ThreadPoolExecutor(6) as pool:
        # A new version: the first asker renders, the others wait for its block.
        first = pool.submit(cache.block, _key(1), slow("<p>v1</p>"))
        assert started.wait(10)
        waiting = [pool.submit(cache.block, _key(1), slow("<p>again</p>")) for _ in range(4)]
        release.set()
        blocks = {id(f.result(10)) for f in (first, *waiting)}
        assert renders == ["<p>v1</p>"] and len(blocks) == 1

        # The time-to-live ran out: one thread renews the block, the others get the kept one at once.
        clock.t += 61
        started.clear()
        release.clear()
        renewing = pool.submit(cache.block, _key(1), slow("<p>v1 renamed</p>"))
        assert started.wait(10)
        assert cache.block(_key(1), slow("<p>never</p>")).html() == "<p>v1</p>"
        release.set()
        assert renewing.result(10).html() == "<p>v1 renamed</p>"
    assert renders == ["<p>v1</p>", "<p>v1 renamed</p>"]
    assert cache.block(_key(1), slow("<p>never</p>")).html() == "<p>v1 renamed</p>"


def test_a_failed_render_leaves_the_next_asker_to_render():
    cache = BoardCache(ttl_seconds=60, clock=FakeClock())

    def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        cache.block(_key(1), broken)
    assert cache.block(_key(1), lambda: "<p>ok</p>").html() == "<p>ok</p>"

"""SQLite is configured for concurrent, durable use (WAL, FULL sync, FKs, immediate writers)."""

from __future__ import annotations

import threading

from sqlalchemy import text

from app.db import make_engine, migrate, read_session, write_session


def test_pragmas_on_pooled_connections(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    engine = make_engine(url, busy_timeout_ms=7000)
    try:
        for _ in range(3):  # the same connection comes back from the pool with its settings
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    finally:
        engine.dispose()


def test_concurrent_read_then_write_transactions_queue(tmp_path):
    """Writers that read first would deadlock on the lock upgrade under deferred BEGIN."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate(url)
    engine = make_engine(url)
    with read_session(engine) as s:  # the migrations' own rows (the versions of 0018 and 0019)
        before = s.execute(text("SELECT count(*) FROM app_meta")).scalar_one()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                with write_session(engine) as s:
                    count = s.execute(text("SELECT count(*) FROM app_meta")).scalar_one()
                    s.execute(text("INSERT INTO app_meta (key, value) VALUES (:k, :v)"),
                              {"k": f"w{n}-{i}", "v": str(count)})
                    s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with read_session(engine) as s:
            assert s.execute(text("SELECT count(*) FROM app_meta")).scalar_one() == before + 8 * 15
    finally:
        engine.dispose()


def test_reads_do_not_take_the_write_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate(url)
    engine = make_engine(url, busy_timeout_ms=200)
    try:
        with read_session(engine) as s:  # the migrations' own rows
            before = s.execute(text("SELECT count(*) FROM app_meta")).scalar_one()
        with write_session(engine) as writer:
            writer.execute(text("INSERT INTO app_meta (key, value) VALUES ('a', '1')"))
            # While the writer holds the lock, a reader still answers (WAL), seeing committed data.
            with read_session(engine) as reader:
                assert reader.execute(text("SELECT count(*) FROM app_meta")).scalar_one() == before
            writer.commit()
    finally:
        engine.dispose()

"""Backups: the restore drill on each database, and the archives `restore` refuses.

The drill loads a demo of ~2,000 activities, runs ``python -m app backup`` (the command itself, in
its own process) while this process keeps recording activities with a photo through the service,
restores the archive into a new empty database and upload directory, and compares every table's
row count with the manifest and every board figure with the source as it was at the backup's
moment (the source's later writes withdrawn again through the service).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, func, select, text

from app.activities import photos
from app.activities.recording import record_activity, withdraw
from app.activities.schemas import ActivityInput
from app.auth.service import build_principal
from app.backup import MANIFEST, BackupError, find_pg_tool, read_manifest
from app.boards.periods import span
from app.boards.service import figures, overview, participation
from app.cli import main
from app.clock import today_cn
from app.config import PROJECT_ROOT
from app.db import make_engine, migrate, read_session, write_session
from app.models import Activity, ActivityPhoto, GrantRole, Organisation, UserAccount
from app.seed.demo import load_demo
from app.seed.province import init_province
from tests import factories as f
from tests.conftest import IN_CI, temporary_database

DEMO_ACTIVITIES = 2_000


def _require_pg_tools(backend: str) -> None:
    """pg_dump and pg_restore on PostgreSQL runs: skip with the reason, or fail under CI=true."""
    if backend != "postgresql":
        return
    try:
        find_pg_tool("pg_dump")
        find_pg_tool("pg_restore")
    except BackupError as exc:
        if IN_CI:
            pytest.fail(f"CI=true: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def _point_at(monkeypatch, use_database, url: str, uploads: Path) -> None:
    """The app's settings (and a subprocess's environment) name this database and upload directory."""
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(uploads))
    use_database(url)


def _table_counts(engine: Engine) -> dict[str, int]:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in inspect(conn).get_table_names()}


def _untouched(url: str) -> bool:
    """The database ``url`` names still holds no table: a refused restore wrote nothing."""
    engine = make_engine(url)
    try:
        return _table_counts(engine) == {}
    finally:
        engine.dispose()


def _board(engine: Engine) -> dict:
    """Every board figure of this year and last: by organisation and by place, 参与率, the province's ranking."""
    out: dict = {}
    with read_session(engine) as s:
        orgs = list(s.scalars(select(Organisation.id)))
        province = s.scalar(select(Organisation).where(Organisation.parent_id.is_(None)))
        for year in (today_cn().year - 1, today_cn().year):
            period = span(year, 1, 12)
            out[year, "org"] = dict(figures(s, "org", orgs, period))
            out[year, "place"] = dict(figures(s, "place", orgs, period))
            out[year, "participation"] = {o: (p.active, p.took_part) for o, p in participation(s, orgs, period).items()}
            view = overview(s, province, period)
            out[year, "overview"] = (
                view.score,
                [(t.task.id, t.activities, [(i.verified, i.pending, i.target) for i in t.indicators]) for t in view.tasks],
                [(r.org.code, r.score, r.rank, r.previous_rank, r.verified_activities, r.behind) for r in view.ranking],
            )
    return out


class Writer(threading.Thread):
    """Records one activity with a photo after another through the service until told to stop."""

    def __init__(self, engine: Engine, user_id: int, data: ActivityInput) -> None:
        super().__init__(daemon=True)
        self.engine, self.user_id, self.data = engine, user_id, data
        self.ids: list[int] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.wrote = threading.Condition()
        self.photo = photos.prepare(_png())

    def run(self) -> None:
        try:
            with read_session(self.engine) as s:
                principal = build_principal(s, s.get(UserAccount, self.user_id))
            while not self.stop.is_set():
                with write_session(self.engine) as s:
                    done = record_activity(s, by=principal, data=self.data, photos=[self.photo],
                                           idempotency_key=f"drill-{len(self.ids)}")
                with self.wrote:
                    self.ids.append(done.activity.id)
                    self.wrote.notify_all()
        except BaseException as exc:
            self.errors.append(exc)
            with self.wrote:
                self.wrote.notify_all()

    def wait_for(self, count: int) -> None:
        with self.wrote:
            assert self.wrote.wait_for(lambda: len(self.ids) >= count or self.errors, timeout=120)
        assert not self.errors, self.errors


def _member_who_records(engine: Engine) -> tuple[int, ActivityInput]:
    with write_session(engine) as s:
        wuhua = f.org(s, "530102")
        member = f.make_member(s, wuhua, name="演练委员")
        user = f.make_user(s, member=member, grants=((GrantRole.member, wuhua),))
        task = f.task(s, 3)
        indicator = f.indicators(s, task)[0]
        s.commit()
        return user.id, ActivityInput(task_id=task.id, county_id=wuhua.id, occurred_on=today_cn(),
                                      description="备份演练：备份进行中写入的活动", values={indicator.id: "1"})


def test_backup_while_writing_then_restore_gives_every_count_and_figure(
        backend, tmp_path, monkeypatch, use_database, capsys, settings_env):
    _require_pg_tools(backend)
    settings_env(quality_checks="false")  # the writer records one activity again and again
    uploads, restored_uploads, out = tmp_path / "uploads", tmp_path / "restored-uploads", tmp_path / "backups"
    with temporary_database(backend, tmp_path) as source_url, temporary_database(backend, tmp_path) as target_url:
        migrate(source_url)
        _point_at(monkeypatch, use_database, source_url, uploads)
        source = make_engine(source_url)
        try:
            with write_session(source) as s:
                load_demo(s, activities=DEMO_ACTIVITIES, seed=11, progress=lambda _m: None)
                s.commit()
            user_id, data = _member_who_records(source)
            (uploads / "imports").mkdir(parents=True)
            (uploads / "imports" / "staged.xlsx").write_bytes(b"a preview in progress")

            writer = Writer(source, user_id, data)
            writer.start()
            try:
                writer.wait_for(3)
                # The command itself, in its own process, while this one goes on writing.
                done = subprocess.run([sys.executable, "-m", "app", "backup", "--out", str(out)],
                                      capture_output=True, text=True, env=dict(os.environ), cwd=PROJECT_ROOT,
                                      timeout=300, check=False)
                writer.wait_for(len(writer.ids) + 3)  # and after it: writes the archive must not hold
            finally:
                writer.stop.set()
                writer.join(60)
            assert not writer.errors, writer.errors
            assert done.returncode == 0, done.stderr
            archive = Path(done.stdout.strip().splitlines()[-1])
            assert archive.parent == out and archive.name.startswith(f"szt-backup-{backend}-")
            assert archive.name.endswith(".tar") and Path(f"{archive}.sha256").exists()
            manifest = read_manifest(archive)
            with tarfile.open(archive) as tar:
                names = tar.getnames()
            assert MANIFEST in names and not any(n.startswith("uploads/imports") for n in names)

            _point_at(monkeypatch, use_database, target_url, restored_uploads)
            assert main(["restore", str(archive)]) == 0
            said = capsys.readouterr().out
            assert "各表行数与备份清单一致" in said and "汇总与原始记录一致" in said and "检查全部通过" in said

            target = make_engine(target_url)
            try:
                assert _table_counts(target) == manifest["tables"]
                with read_session(target) as s:
                    kept = set(s.scalars(select(Activity.id).where(Activity.id.in_(writer.ids))))
                    keys = list(s.scalars(select(ActivityPhoto.storage_key)))
                # One moment: the archive holds the writes before it and none after, and
                # the manifest counted the rows of that same moment.
                k = len(kept)
                assert kept == set(writer.ids[:k]) and 3 <= k <= len(writer.ids) - 3
                assert manifest["tables"]["activity"] == DEMO_ACTIVITIES + k
                # Every photo an activity names came back, byte for byte.
                assert len(keys) >= k
                for key in keys:
                    for name in (f"{key}.jpg", f"{key}.thumb.jpg"):
                        assert (restored_uploads / key[:2] / name).read_bytes() == (uploads / key[:2] / name).read_bytes()
                assert not (restored_uploads / "imports").exists()

                # The source as it was at the backup's moment: the later writes withdrawn again.
                with read_session(source) as s:
                    principal = build_principal(s, s.get(UserAccount, user_id))
                for activity_id in writer.ids[k:]:
                    with write_session(source) as s:
                        withdraw(s, by=principal, activity_id=activity_id)
                assert _board(target) == _board(source)
            finally:
                target.dispose()
        finally:
            source.dispose()


# --- refusals ---------------------------------------------------------------------------------------

@pytest.fixture
def small_backup(backend, tmp_path, monkeypatch, use_database, capsys):
    """(archive, source URL) of the real province with one photo file, backed up in-process."""
    _require_pg_tools(backend)
    with temporary_database(backend, tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        try:
            with write_session(engine) as s:
                init_province(s, "53")
                s.commit()
        finally:
            engine.dispose()
        uploads = tmp_path / "uploads"
        (uploads / "ab").mkdir(parents=True)
        (uploads / "ab" / "ab12.jpg").write_bytes(b"photo bytes")
        _point_at(monkeypatch, use_database, url, uploads)
        assert main(["backup", "--out", str(tmp_path / "backups")]) == 0
        archive = Path(capsys.readouterr().out.strip().splitlines()[-1])
        assert archive.exists()
        yield archive, url


def _organisations(url: str) -> int:
    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            return s.scalar(select(func.count()).select_from(Organisation))
    finally:
        engine.dispose()


def _restore_refused(archive: Path, capsys) -> str:
    assert main(["restore", str(archive)]) == 2
    return capsys.readouterr().err


def test_restore_refuses_a_database_that_is_not_empty(small_backup, tmp_path, monkeypatch, use_database, capsys):
    archive, url = small_backup
    _point_at(monkeypatch, use_database, url, tmp_path / "other-uploads")
    said = _restore_refused(archive, capsys)
    assert "目标数据库不是空的" in said and "新建一个空数据库" in said
    assert _organisations(url) == 146


def test_restore_refuses_an_archive_of_the_other_database_kind(small_backup, backend, tmp_path, monkeypatch,
                                                               use_database, capsys):
    archive, _ = small_backup
    # Refused before anything connects: the PostgreSQL address need not answer, the SQLite file is never made.
    other = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere" if backend == "sqlite" else f"sqlite:///{tmp_path / 'x.db'}"
    _point_at(monkeypatch, use_database, other, tmp_path / "other-uploads")
    said = _restore_refused(archive, capsys)
    assert "数据库的备份，而 DATABASE_URL 指向" in said
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "other-uploads").exists()


def test_restore_refuses_a_corrupted_or_tampered_archive(small_backup, backend, tmp_path, monkeypatch,
                                                         use_database, capsys):
    archive, _ = small_backup
    with temporary_database(backend, tmp_path) as target_url:
        _point_at(monkeypatch, use_database, target_url, tmp_path / "other-uploads")
        sidecar = Path(f"{archive}.sha256")
        good = archive.read_bytes()

        with tarfile.open(archive) as tar:
            offset = tar.getmember("uploads/ab/ab12.jpg").offset_data
        damaged = bytearray(good)
        damaged[offset] ^= 0xFF
        archive.write_bytes(bytes(damaged))
        assert "校验失败" in _restore_refused(archive, capsys)

        # Changed and given a matching sidecar: the manifest's own checksums still catch it.
        import hashlib

        sidecar.write_text(f"{hashlib.sha256(damaged).hexdigest()}  {archive.name}\n", encoding="utf-8")
        assert "与清单的校验和不符" in _restore_refused(archive, capsys)

        archive.write_bytes(good)
        sidecar.unlink()
        assert "缺少校验文件" in _restore_refused(archive, capsys)
        assert not (tmp_path / "other-uploads").exists()
        assert _untouched(target_url)


def test_restore_refuses_to_overwrite_a_different_photo(small_backup, backend, tmp_path, monkeypatch,
                                                        use_database, capsys):
    archive, _ = small_backup
    with temporary_database(backend, tmp_path) as target_url:
        uploads = tmp_path / "busy-uploads"
        (uploads / "ab").mkdir(parents=True)
        (uploads / "ab" / "ab12.jpg").write_bytes(b"another photo")
        _point_at(monkeypatch, use_database, target_url, uploads)
        said = _restore_refused(archive, capsys)
        assert "不会覆盖" in said and "ab/ab12.jpg" in said
        assert (uploads / "ab" / "ab12.jpg").read_bytes() == b"another photo"
        assert _untouched(target_url)


def test_restore_into_an_empty_database_with_only_alembic_version(small_backup, backend, tmp_path, monkeypatch,
                                                                  use_database, capsys):
    archive, url = small_backup
    with temporary_database(backend, tmp_path) as target_url:
        engine = make_engine(target_url)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        finally:
            engine.dispose()
        _point_at(monkeypatch, use_database, target_url, tmp_path / "restored-uploads")
        assert main(["restore", str(archive)]) == 0, capsys.readouterr().err
        assert _organisations(target_url) == _organisations(url) == 146
        assert (tmp_path / "restored-uploads" / "ab" / "ab12.jpg").read_bytes() == b"photo bytes"


def test_backup_with_photos_in_object_storage_says_they_are_not_included(backend, tmp_path, monkeypatch,
                                                                         use_database, capsys):
    _require_pg_tools(backend)
    with temporary_database(backend, tmp_path) as url:
        migrate(url)
        uploads = tmp_path / "uploads"
        (uploads / "ab").mkdir(parents=True)
        (uploads / "ab" / "ab12.jpg").write_bytes(b"a stray local file")
        monkeypatch.setenv("SZT_STORAGE", "s3")
        monkeypatch.setenv("SZT_S3_BUCKET", "szt-photos")
        _point_at(monkeypatch, use_database, url, uploads)
        assert main(["backup", "--out", str(tmp_path / "backups")]) == 0
        said = capsys.readouterr().out
        assert "不在本备份内" in said
        archive = Path(said.strip().splitlines()[-1])
        manifest = read_manifest(archive)
        assert manifest["photos"] == {"included": False, "storage": "s3", "files": 0}
        assert not any(name.startswith("uploads/") for name in manifest["files"])


def test_a_pg_dump_older_than_the_server_is_refused_with_what_to_install(monkeypatch):
    monkeypatch.setattr("app.backup._tool_major", lambda _path: 14)
    monkeypatch.setattr("app.backup.shutil.which", lambda _name: "/usr/bin/pg_dump")
    with pytest.raises(BackupError, match="低于数据库服务器的 16 版：请安装 postgresql-client-16"):
        find_pg_tool("pg_dump", at_least=16)
    monkeypatch.setattr("app.backup._tool_major", lambda _path: None)
    with pytest.raises(BackupError, match="找不到 pg_dump：请安装 PostgreSQL 客户端"):
        find_pg_tool("pg_dump")


def test_restore_refuses_an_archive_from_a_newer_version(small_backup, backend, tmp_path, monkeypatch, use_database,
                                                         capsys):
    import hashlib
    import json

    archive, _ = small_backup
    newer = tmp_path / "newer" / archive.name
    newer.parent.mkdir()
    with tarfile.open(archive) as old, tarfile.open(newer, "w") as new:
        for member in old:
            data = old.extractfile(member).read()
            if member.name == MANIFEST:
                manifest = json.loads(data)
                manifest["alembic_revision"] = "9999_from_the_future"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    Path(f"{newer}.sha256").write_text(f"{hashlib.sha256(newer.read_bytes()).hexdigest()}  {newer.name}\n")
    # Refused before anything connects: the PostgreSQL address need not answer, the SQLite file is never made.
    same_kind = f"sqlite:///{tmp_path / 'never.db'}" if backend == "sqlite" else "postgresql+psycopg://nobody@127.0.0.1:9/nowhere"
    _point_at(monkeypatch, use_database, same_kind, tmp_path / "other-uploads")
    assert "来自更新版本的程序，请先升级程序" in _restore_refused(newer, capsys)
    assert not (tmp_path / "never.db").exists()


def test_a_failed_backup_leaves_nothing_behind(tmp_path, monkeypatch, use_database, capsys):
    with temporary_database("sqlite", tmp_path) as url:
        migrate(url)
        uploads = tmp_path / "uploads"
        (uploads / "ab").mkdir(parents=True)
        (uploads / "ab" / "ab12.jpg").write_bytes(b"photo bytes")

        def photos_then_a_failure(root):
            yield "ab/ab12.jpg", root / "ab" / "ab12.jpg"
            raise OSError(5, "Input/output error")

        monkeypatch.setattr("app.backup._photo_files", photos_then_a_failure)
        _point_at(monkeypatch, use_database, url, uploads)
        out = tmp_path / "backups"
        assert main(["backup", "--out", str(out)]) == 2
        assert "备份失败：读写文件出错" in capsys.readouterr().err
        assert list(out.iterdir()) == []


@pytest.mark.parametrize(("url", "said"), [
    ("postgresql+psycopg://nobody@127.0.0.1:9/nowhere", "连不上数据库"),
    ("sqlite:///{tmp}/missing.db", "数据库文件不存在"),
])
def test_backup_of_a_database_it_cannot_reach_says_so(url, said, tmp_path, monkeypatch, use_database, capsys):
    _point_at(monkeypatch, use_database, url.format(tmp=tmp_path), tmp_path / "uploads")
    assert main(["backup", "--out", str(tmp_path / "backups")]) == 2
    assert said in capsys.readouterr().err
    assert list((tmp_path / "backups").iterdir()) == []

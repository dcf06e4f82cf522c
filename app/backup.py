"""Backups and their restore: one dated archive of the database and the uploaded photos.

``backup`` writes ``szt-backup-<sqlite|postgresql>-YYYYMMDD-HHMMSS.tar`` (Beijing time) holding

- ``database/szt.sqlite3`` — SQLite's online backup: one page copy inside one read transaction,
  so it is one consistent moment while the app goes on writing (WAL: readers never block the
  writer); or ``database/szt.pgdump`` — ``pg_dump --format=custom`` of a snapshot exported by a
  REPEATABLE READ transaction in which the row counts are taken too, so counts and dump agree;
- ``uploads/…`` — the photos under ``settings.upload_dir``, as the local storage lists them
  (``LocalStorage.photo_files``: not the transient ``imports/`` area). The database is copied first:
  a photo is written before the activity that names it commits, so every photo the copy names is
  on disk when the tree is walked (photos added later are harmless extras);
- ``manifest.json`` — kind, time, alembic revision, app version, every table's row count and
  every file's SHA-256;

next to a ``<archive>.sha256`` sidecar in ``sha256sum`` format. Both are written under temporary
names and renamed when complete, so a crash never leaves a half archive under the real name.
Frozen reports are database rows, so they come with the database.

``restore`` checks the sidecar and every file against the manifest before it touches anything,
refuses an archive of the other database kind or a target that is not empty (no tables, or only
``alembic_version``) or photos that would overwrite different files, then restores, and checks
integrity (SQLite's ``integrity_check``), the row counts against the manifest and the rollup
against the raw rows (what ``rollup --check`` runs).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from app.clock import now_cn
from app.config import get_settings
from app.storage import LocalStorage

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database/szt.sqlite3", "postgresql": "database/szt.pgdump"}
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
CHUNK = 1 << 20

Progress = Callable[[str], object]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message (Chinese) says why and what to do."""


# --- small helpers --------------------------------------------------------------------------------

def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in DATABASE_FILES:
        raise BackupError(f"不支持的数据库类型：{backend}（只支持 SQLite 与 PostgreSQL）")
    return backend


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def app_version() -> str:
    try:
        return metadata.version("shuang-zhutui")
    except metadata.PackageNotFoundError:
        return "unknown"


def _photo_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The photos under ``root`` as the local storage lays them out (app/storage.py)."""
    return LocalStorage(root).photo_files()


class _Hashing:
    """A file read through: tarfile streams it into the archive while its SHA-256 is taken."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.digest = fh, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.digest.update(data)
        return data


# --- PostgreSQL's tools ---------------------------------------------------------------------------

def _tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def find_pg_tool(name: str, *, at_least: int | None = None) -> Path:
    """The newest ``pg_dump`` / ``pg_restore`` on PATH or in Debian's /usr/lib/postgresql/*/bin.

    pg_dump refuses a server newer than itself, so its major version must be ≥ the server's.
    """
    candidates: list[Path] = []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    found = [(major, path) for path in candidates if (major := _tool_major(path)) is not None]
    if not found:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（Debian/Ubuntu：apt-get install postgresql-client），"
                          f"版本不低于数据库服务器")
    major, path = max(found, key=lambda item: item[0])  # the first of the newest: PATH's on a tie
    if at_least is not None and major < at_least:
        raise BackupError(f"本机最新的 {name} 是 PostgreSQL {major} 版，低于数据库服务器的 {at_least} 版：请安装 "
                          f"postgresql-client-{at_least}（或更新的版本）后再试")
    return path


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The conninfo string for the PostgreSQL tools and their environment (the password stays out of ``ps``)."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, str] = {"dbname": url.database or ""}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    params.update({k: str(v) for k, v in url.query.items() if isinstance(v, str)})
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**params), env


def _run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{what}失败（退出码 {done.returncode}）：" + " / ".join(detail))


# --- taking the database's copy --------------------------------------------------------------------

@dataclass
class _Snapshot:
    revision: str | None
    tables: dict[str, int]
    details: dict[str, str] = field(default_factory=dict)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL 指向内存数据库，没有可备份的文件")
    return Path(database)


def _sqlite_counts(conn: sqlite3.Connection) -> tuple[str | None, dict[str, int]]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone() if "alembic_version" in tables else None
    return (revision[0] if revision else None), tables


def _sqlite_snapshot(url: str, dest: Path) -> _Snapshot:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"数据库文件不存在：{source_path}（检查 DATABASE_URL）")
    source = sqlite3.connect(source_path, timeout=get_settings().sqlite_busy_timeout_ms / 1000)
    copy = sqlite3.connect(dest)
    try:
        # One step (pages=-1): the whole copy is one read transaction, one moment; writers go on.
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        revision, tables = _sqlite_counts(copy)
    finally:
        copy.close()
        source.close()
    return _Snapshot(revision, tables, {"sqlite_version": sqlite3.sqlite_version})


def _pg_tables(conn) -> dict[str, int]:  # noqa: ANN001 - a SQLAlchemy connection
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


def _pg_snapshot(url: str, dest: Path) -> _Snapshot:
    from app.db import make_engine

    engine = make_engine(url)
    try:
        try:
            plain = engine.connect()
        except OperationalError as exc:
            raise BackupError(f"连不上数据库（{type(exc.orig).__name__}）：请检查 DATABASE_URL 与数据库服务器") from exc
        with plain:
            server = int(plain.exec_driver_sql("SHOW server_version_num").scalar_one())
            server_text = str(plain.exec_driver_sql("SHOW server_version").scalar_one())
            plain.rollback()
            pg_dump = find_pg_tool("pg_dump", at_least=server // 10000)
            conninfo, env = _libpq(make_url(url))
            conn = plain.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                # The dump and the counts read one exported snapshot: they describe the same moment.
                snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                tables = _pg_tables(conn)
                revision = (conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one_or_none()
                            if "alembic_version" in tables else None)
                _run_tool([str(pg_dump), "--format=custom", f"--snapshot={snapshot}", "--file", str(dest),
                           "--dbname", conninfo], env, "pg_dump ")
    finally:
        engine.dispose()
    return _Snapshot(revision, tables, {"server_version": server_text, "pg_dump": str(pg_dump)})


# --- backup ----------------------------------------------------------------------------------------

def backup(out_dir: Path | str | None = None, *, progress: Progress = print) -> Path:
    """Write one archive of the configured database and photos into ``out_dir``; return its path."""
    settings = get_settings()
    kind = _kind(settings.database_url)
    out = Path(out_dir or settings.backup_dir)
    out.mkdir(parents=True, exist_ok=True)
    created = now_cn()
    name = f"szt-backup-{kind}-{created:%Y%m%d-%H%M%S}.tar"
    final = out / name
    if final.exists():
        raise BackupError(f"{final} 已存在：同一秒内只能做一份备份，请稍后再试")
    partial = out / f".{name}.partial"
    files: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="szt-backup-", dir=out) as work:
        dump = Path(work) / PurePosixPath(DATABASE_FILES[kind]).name
        progress(f"正在备份 {KIND_NAMES[kind]} 数据库（在线备份，期间网站照常使用）…")
        snap = (_sqlite_snapshot if kind == "sqlite" else _pg_snapshot)(settings.database_url, dest=dump)
        if snap.revision is None:
            raise BackupError("数据库还没有建表（没有 alembic_version）：没有可备份的数据")
        progress(f"数据库：{len(snap.tables)} 张表，共 {sum(snap.tables.values()):,} 行"
                 f"（活动 {snap.tables.get('activity', 0):,} 条），{_size(dump.stat().st_size)}")
        storage = settings.storage  # local: the upload directory; s3: a bucket, backed up on its own
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                _add(tar, DATABASE_FILES[kind], dump, files)
                photos = photo_bytes = 0
                if storage == "local":
                    for rel, path in _photo_files(Path(settings.upload_dir)):
                        added = _add(tar, f"uploads/{rel}", path, files)
                        if added is not None:
                            photos, photo_bytes = photos + 1, photo_bytes + added
                    progress(f"照片：{photos:,} 个文件，{_size(photo_bytes)}")
                else:
                    progress(f"照片存放在对象存储（{storage}）中，不在本备份内：请按部署指南另行备份存储桶")
                manifest = {
                    "format": FORMAT, "kind": kind, "created_at": created.isoformat(timespec="seconds"),
                    "alembic_revision": snap.revision, "app_version": app_version(), "database": snap.details,
                    "tables": snap.tables,
                    "photos": {"included": storage == "local", "storage": storage, "files": photos},
                    "files": files,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(created.timestamp()), 0o644
                tar.addfile(info, io.BytesIO(data))
            _fsync(partial)
            digest = _sha256_file(partial)
            sidecar_partial = out / f".{name}.sha256.partial"
            sidecar_partial.write_text(f"{digest}  {name}\n", encoding="utf-8")
            _fsync(sidecar_partial)
            os.replace(partial, final)
            os.replace(sidecar_partial, out / f"{name}.sha256")
        finally:
            partial.unlink(missing_ok=True)
            (out / f".{name}.sha256.partial").unlink(missing_ok=True)
    progress(f"已写入备份与校验文件（SHA-256 {digest[:16]}…，{_size(final.stat().st_size)}）")
    return final


def _add(tar: tarfile.TarFile, arcname: str, path: Path, files: dict[str, dict[str, object]]) -> int | None:
    """Add ``path`` as ``arcname``, its checksum into ``files``; its size, or None when it went away meanwhile."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:  # removed since the tree was listed
        return None
    with fh:
        info = tar.gettarinfo(arcname=arcname, fileobj=fh)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        reader = _Hashing(fh)
        tar.addfile(info, reader)  # tarfile only calls read()
    files[arcname] = {"sha256": reader.digest.hexdigest(), "bytes": info.size}
    return info.size


# --- restore ---------------------------------------------------------------------------------------

@dataclass
class RestoreResult:
    ok: bool
    lines: list[str]


def _sidecar_digest(archive: Path) -> str:
    sidecar = archive.with_name(archive.name + ".sha256")
    if not sidecar.exists():
        raise BackupError(f"缺少校验文件 {sidecar.name}：无法确认备份完整，不予恢复（请把它和备份文件放在同一目录）")
    words = sidecar.read_text(encoding="utf-8", errors="replace").split()
    if not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
        raise BackupError(f"校验文件 {sidecar.name} 的内容不是 SHA-256：请换一份完整的备份")
    return words[0]


def read_manifest(archive: Path) -> dict:
    """Check the archive against its sidecar and every file against the manifest; return the manifest."""
    if not archive.is_file():
        raise BackupError(f"找不到备份文件：{archive}")
    if _sha256_file(archive) != _sidecar_digest(archive):
        raise BackupError("备份文件校验失败（SHA-256 与 .sha256 校验文件不符）：文件已损坏或被改动，不予恢复。请换一份备份")
    try:
        with tarfile.open(archive, "r:") as tar:
            member = tar.getmember(MANIFEST)
            fh = tar.extractfile(member)
            manifest = json.loads(fh.read() if fh else b"")
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or \
                    manifest.get("kind") not in DATABASE_FILES or not isinstance(manifest.get("files"), dict):
                raise BackupError("备份清单（manifest.json）格式不对：这不是本程序做的备份，或来自不兼容的版本")
            seen: set[str] = set()
            for item in tar:
                if item.name == MANIFEST:
                    continue
                want = manifest["files"].get(item.name)
                if want is None or not item.isfile():
                    raise BackupError(f"备份中有清单之外的内容（{item.name}）：不予恢复")
                got = tar.extractfile(item)
                digest = hashlib.sha256()
                while got and (chunk := got.read(CHUNK)):
                    digest.update(chunk)
                if digest.hexdigest() != want.get("sha256"):
                    raise BackupError(f"备份中的文件 {item.name} 与清单的校验和不符：备份已损坏，不予恢复")
                seen.add(item.name)
    except (tarfile.TarError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"无法读取备份文件（{type(exc).__name__}）：它不是完整的备份归档") from exc
    missing = set(manifest["files"]) - seen
    if missing or DATABASE_FILES[manifest["kind"]] not in seen:
        raise BackupError(f"备份缺少清单中的 {len(missing) or 1} 个文件（如 {min(missing or {'数据库'})}）：不予恢复")
    return manifest


def _check_revision(revision: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from app.config import PROJECT_ROOT

    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    try:
        known = script.get_revision(revision) is not None
    except (CommandError, RevisionError):  # unknown, or ambiguous
        known = False
    if not known:
        raise BackupError(f"备份的数据库版本 {revision} 本程序不认识：它来自更新版本的程序，请先升级程序再恢复")


def _target_tables(kind: str, url: str) -> list[str]:
    if kind == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return []
        db = sqlite3.connect(path)
        try:
            return [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"目标文件 {path} 不是可用的 SQLite 数据库（{exc}）：请换一个路径") from exc
        finally:
            db.close()
    from app.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(inspect(conn).get_table_names())
    except Exception as exc:  # any failure to reach the server is said the same way
        raise BackupError(f"连不上目标数据库（{type(exc).__name__}）：请检查 DATABASE_URL，并先建好一个空数据库") from exc
    finally:
        engine.dispose()


def _photo_conflicts(upload_dir: Path, manifest: dict) -> list[str]:
    clashes = []
    for name, want in manifest["files"].items():
        if not name.startswith("uploads/"):
            continue
        dest = upload_dir / _safe_relative(name)
        if dest.exists() and (not dest.is_file() or _sha256_file(dest) != want["sha256"]):
            clashes.append(name.removeprefix("uploads/"))
    return clashes


def _safe_relative(name: str) -> Path:
    rel = PurePosixPath(name.removeprefix("uploads/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise BackupError(f"备份中的文件名不安全（{name}）：不予恢复")
    return Path(*rel.parts)


def _extract_to(tar: tarfile.TarFile, name: str, dest: Path) -> None:
    """``name`` from the archive to ``dest``, through a temporary file and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".szt-restore-", dir=dest.parent)
    try:
        src = tar.extractfile(name)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                shutil.copyfileobj(src, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _restore_sqlite(tar: tarfile.TarFile, url: str) -> None:
    target = _sqlite_path(url)
    if target.exists():
        # Leave WAL mode first: a stale -wal of the old empty file must not be replayed onto the new one.
        conn = sqlite3.connect(target)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
    _extract_to(tar, DATABASE_FILES["sqlite"], target)


def _restore_postgresql(tar: tarfile.TarFile, url: str, tables: list[str], work: Path) -> None:
    from app.db import make_engine

    dump = work / "szt.pgdump"
    _extract_to(tar, DATABASE_FILES["postgresql"], dump)
    if tables:  # only alembic_version (checked): the dump brings its own
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE alembic_version")
        finally:
            engine.dispose()
    pg_restore = find_pg_tool("pg_restore")
    conninfo, env = _libpq(make_url(url))
    try:
        _run_tool([str(pg_restore), "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", conninfo,
                   str(dump)], env, "pg_restore ")
    except BackupError as exc:
        raise BackupError(f"{exc}。目标数据库可能已写入一部分：请删除并重建这个空数据库后再恢复") from exc


def restore(archive: Path | str, *, progress: Progress = print) -> RestoreResult:
    """Restore ``archive`` into the empty database DATABASE_URL names and the upload directory; check it."""
    from app.db import make_engine, migrate, read_session
    from app.rollup import service as rollup

    archive = Path(archive)
    settings = get_settings()
    url = settings.database_url
    target_kind = _kind(url)
    progress(f"正在校验备份 {archive.name} …")
    manifest = read_manifest(archive)
    kind = manifest["kind"]
    if kind != target_kind:
        raise BackupError(f"这是 {KIND_NAMES[kind]} 数据库的备份，而 DATABASE_URL 指向 {KIND_NAMES[target_kind]} 数据库："
                          f"请把 DATABASE_URL 指向一个空的 {KIND_NAMES[kind]} 数据库再恢复")
    _check_revision(manifest["alembic_revision"])
    tables = _target_tables(kind, url)
    others = sorted(set(tables) - {"alembic_version"})
    if others:
        raise BackupError(f"目标数据库不是空的（已有 {len(others)} 张表，如 {', '.join(others[:3])}）：恢复只写入空数据库。"
                          f"请新建一个空数据库，把 DATABASE_URL 指向它再恢复")
    upload_dir = Path(settings.upload_dir)
    photos = manifest.get("photos", {})
    if photos.get("included"):
        clashes = _photo_conflicts(upload_dir, manifest)
        if clashes:
            raise BackupError(f"照片目录 {upload_dir} 中已有 {len(clashes)} 个与备份不同的同名文件（如 {clashes[0]}）："
                              f"不会覆盖。请换一个空的照片目录（SZT_UPLOAD_DIR）再恢复")
    progress(f"备份完整：{KIND_NAMES[kind]}，做于 {manifest['created_at']}，程序版本 {manifest.get('app_version')}")

    with tarfile.open(archive, "r:") as tar, tempfile.TemporaryDirectory(prefix="szt-restore-") as work:
        progress("正在恢复数据库…")
        if kind == "sqlite":
            _restore_sqlite(tar, url)
        else:
            _restore_postgresql(tar, url, tables, Path(work))
        restored_photos = 0
        if photos.get("included"):
            for name in manifest["files"]:
                if name.startswith("uploads/"):
                    dest = upload_dir / _safe_relative(name)
                    if not dest.exists():
                        _extract_to(tar, name, dest)
                    restored_photos += 1
            progress(f"照片：已恢复 {restored_photos:,} 个文件到 {upload_dir}")
        else:
            progress(f"备份不含照片（照片存放在 {photos.get('storage', '对象存储')}）：请按部署指南从存储桶的备份恢复")

    lines: list[str] = []
    ok = True
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if kind == "sqlite":
                verdict = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
                ok &= verdict == "ok"
                lines.append("SQLite 完整性检查：通过" if verdict == "ok" else f"SQLite 完整性检查未通过：{verdict}")
            have = _pg_tables(conn) if kind == "postgresql" else _sqlite_table_counts(conn)
        want: dict[str, int] = manifest["tables"]
        differ = [f"{t}（备份 {want.get(t)}，恢复后 {have.get(t)}）" for t in sorted(want.keys() | have.keys())
                  if want.get(t) != have.get(t)]
        ok &= not differ
        lines.append(f"各表行数与备份清单一致：{len(want)} 张表，共 {sum(want.values()):,} 行" if not differ
                     else f"行数与备份清单不一致：{'；'.join(differ[:10])}")
        engine.dispose()
        migrate(url)  # an archive of an older version is brought up to this one's schema
        with read_session(engine) as s:
            problems = rollup.check(s)
        ok &= not problems
        lines.append("看板汇总与原始记录一致（rollup --check）" if not problems
                     else f"看板汇总与原始记录不一致：{len(problems)} 处（python -m app rollup --rebuild 可重建）；"
                          f"如 {problems[0]}")
    finally:
        engine.dispose()
    return RestoreResult(ok, lines)


def _sqlite_table_counts(conn) -> dict[str, int]:  # noqa: ANN001 - a SQLAlchemy connection
    names = [r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one() for name in names}

"""Settings, read from the environment (prefix ``SZT_``; ``DATABASE_URL`` unprefixed).

Never read at import time: call ``get_settings()`` so tests can override it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'szt.db'}"
DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SZT_", extra="ignore")

    # dev: the embedded default; prod refuses the development secret.
    env: str = "dev"
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "SZT_DATABASE_URL"),
    )
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    # Size of the demo loaded by `serve` into an empty database: small enough to start quickly.
    demo_activities: int = 20_000
    # Boards: seconds a rendered board may be reused while its figures' version is unchanged (0: never).
    board_cache_seconds: int = 60
    sqlite_busy_timeout_ms: int = 15_000
    # PostgreSQL: write use cases one process runs side by side (no turn of one). Since a submission's
    # hot rows go with its COMMIT, four keep the server busy; more threads only fight over the GIL
    # (two workers: 224–238/s at 4 against 158–166/s at 8, bench/README.md).
    pg_writers: int = Field(default=4, ge=1, le=64)
    # Once it serves: freeze the application's objects out of the garbage collector's walks, collect the
    # young generation less often and set the GIL's switch interval (app/ops/interpreter.py); 0 leaves
    # Python's defaults (the tests).
    gc_freeze: bool = True
    # Seconds a thread may hold the GIL while another waits for it. Unset: 0.0001 on SQLite, so its one
    # writer thread gets it back soon after each call into SQLite, and Python's own 0.005 on PostgreSQL,
    # whose writers are several threads (app/ops/interpreter.py).
    switch_interval: float | None = Field(default=None, gt=0, le=0.1)
    # Sessions: idle and absolute timeouts.
    session_idle_minutes: int = 60 * 24 * 3
    session_absolute_minutes: int = 60 * 24 * 14
    # Login throttling: per account a short self-expiring lock, per address a longer one.
    login_account_max_failures: int = 5
    login_account_window_seconds: int = 300
    login_ip_max_failures: int = 30
    login_ip_window_seconds: int = 900
    activation_code_days: int = 14
    # Request bodies (app/limits.py): the most any request may send unless its route declares more
    # (photos, imports); refused with 413 before anything reads it.
    max_body_bytes: int = 1024 * 1024
    # Photos (app/activities/photos.py): the most pixels an upload may claim (its header is read
    # before decoding; 40 MP is beyond any phone's camera and ~120 MB decoded), and how many photos
    # one process decodes at once (each decode may take that much memory).
    photo_max_pixels: int = 40_000_000
    photo_decode_concurrency: int = 2
    # Uploaded evidence photos live here, outside static/, served only to those allowed.
    upload_dir: str = str(PROJECT_ROOT / "data" / "uploads")
    # Where `python -m app backup` writes its archives unless given --out (app/backup.py).
    backup_dir: str = str(PROJECT_ROOT / "data" / "backups")
    # Where stored files live (app/storage.py): local (under upload_dir) or s3 (an S3-compatible
    # bucket, shared by every machine; photos, import files and exports under s3_prefix).
    storage: Literal["local", "s3"] = "local"
    s3_endpoint: str = ""  # e.g. https://oss.example.gov.cn; empty: AWS's own endpoint for s3_region
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_prefix: str = ""  # e.g. "szt/": keys go under it
    # API tokens' rate limits: database (shared by every process and machine) or memory (per process).
    rate_limit_backend: Literal["database", "memory"] = "database"
    # Threads per server process running background jobs (exports, imports); 0: this process runs none.
    job_workers: int = 1
    # Observability (app/ops/): the log's format (json | text; empty: text in development, else
    # json), the free space below which /readyz fails, the addresses that may read /metrics.
    log_format: str = ""
    min_free_disk_mb: int = 200
    metrics_allow: str = "127.0.0.0/8,::1"
    # The province whose real divisions `init` loads (GB/T 2260 two-digit prefix).
    province: str = "53"
    # Behind a reverse proxy (app/security.py): the addresses whose X-Forwarded-For/-Proto are
    # believed ("*" = any; comma-separated). Others' headers are ignored.
    forwarded_allow_ips: str = "127.0.0.1"
    # The site is reached only over https: HSTS and Secure cookies even if the proxy omits X-Forwarded-Proto.
    https_only: bool = False
    # Origins allowed to show the anonymous big screen (/d/…) in a frame, space-separated
    # (e.g. "https://portal.example.gov.cn"); empty: no page may be framed.
    frame_ancestors: str = ""
    # Truth at the door (app/quality/): the likely-duplicate decision and the flags at each write.
    # Off only to measure what they cost (bench/submit.py --flags off); never in production.
    quality_checks: bool = True
    # Reaching members (app/notify/). SMS goes through one provider: log (keeps messages in the
    # sms_log table, only when SZT_ENV=dev; sends nothing anywhere), aliyun or tencent (their HTTP APIs).
    sms_provider: Literal["log", "aliyun", "tencent"] = "log"
    sms_sign_name: str = "双助推"  # the signature (签名) approved with the provider
    sms_access_key_id: str = ""  # aliyun AccessKeyId / tencent SecretId
    sms_access_key_secret: str = ""  # aliyun AccessKeySecret / tencent SecretKey
    sms_app_id: str = ""  # tencent SmsSdkAppId
    sms_region: str = "ap-guangzhou"  # tencent region
    sms_endpoint: str = ""  # override the provider's address (tests' stub servers); empty: the provider's own
    # Template codes approved with the provider, one per template name: "login_code=SMS_1,reminder=SMS_2".
    sms_templates: str = ""
    sms_price_fen: int = 5  # what one billed SMS part costs, for the campaign preview (分)
    sms_daily_cap: int = 3  # non-code SMS a member may get per Beijing day
    sms_quiet_start: int = 21  # no non-code SMS from this hour (Beijing) …
    sms_quiet_end: int = 8  # … until this hour
    wecom_endpoint: str = ""  # tests: where 企业微信 robot webhooks go instead of qyapi.weixin.qq.com
    notify_max_attempts: int = 6  # a notice failing this often is given up (failed)
    # SMS and robot notices each server process sends a second at most (0: unpaced). A campaign to
    # 20,000 members then drains in under 7 minutes while members' submissions keep ≥ 90 % of their
    # throughput (bench/notify.py); sign-in codes are claimed before anything else.
    notify_rate: float = 50.0
    # Sign in with an SMS code: 6 digits, valid this long; resend interval; codes per phone an hour.
    sms_code_minutes: int = 5
    sms_code_resend_seconds: int = 60
    sms_code_per_phone_hour: int = 5
    sms_code_per_ip_hour: int = 20
    sms_code_max_guesses: int = 5
    # 记住我: a long session on the member's own phone.
    remember_idle_days: int = 60
    remember_absolute_days: int = 180

    @model_validator(mode="after")
    def _refuse_dev_secret_in_prod(self) -> Settings:
        if self.env != "dev" and self.secret_key == DEV_SECRET:
            raise ValueError("SZT_SECRET_KEY must be set outside development (SZT_ENV=dev)")
        return self

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("SZT_STORAGE=s3 需要 SZT_S3_BUCKET（存储桶名称）")
        return self

    @field_validator("frame_ancestors")
    @classmethod
    def _origins_only(cls, value: str) -> str:
        # Each goes verbatim into the Content-Security-Policy header: only plain origins, so a stray
        # ";" or "*" cannot rewrite or void the policy.
        for origin in value.split():
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(f"SZT_FRAME_ANCESTORS: 「{origin}」不是来源地址，应写成 https://门户域名[:端口]，多个以空格分隔")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in ("", "json", "text"):
            raise ValueError(f"SZT_LOG_FORMAT: 「{value}」应为 json 或 text")
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _metrics_allow(cls, value: str) -> str:
        from app.ops.metrics import parse_allow

        try:
            parse_allow(value)
        except ValueError as exc:
            raise ValueError(f"SZT_METRICS_ALLOW: 应为以逗号分隔的 IP 地址或网段（如 127.0.0.1,10.0.0.0/8）：{exc}") from exc
        return value

    @property
    def log_style(self) -> str:
        """The log format in force: SZT_LOG_FORMAT, else json in production and text in development."""
        return self.log_format or ("text" if self.env == "dev" else "json")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()

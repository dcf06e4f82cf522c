"""Domain errors: services raise these; app.main turns them into JSON, a toast, or an error page.

Messages are Chinese, for people; ``code`` is stable, for programs.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 errors: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                 extra: dict | None = None) -> None:
        self.message = message or self.default_message
        self.code = code or self.code
        # Per-field messages, for forms that show each error beside its input.
        self.errors = errors or {}
        self.headers = headers or {}
        # More members of the JSON answer beside detail and code (e.g. a duplicate's candidates).
        self.extra = extra or {}
        super().__init__(self.message)


class Invalid(DomainError):
    status_code = 422
    code = "invalid"
    default_message = "填写的内容有误，请检查后重试"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthenticated"
    default_message = "请先登录"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    default_message = "没有权限进行此操作"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    # Also said for objects outside the caller's scope: their existence is not revealed.
    default_message = "找不到该记录，或无权查看"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "操作与当前状态冲突，请刷新后重试"


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"
    default_message = "尝试次数过多，请稍后再试"

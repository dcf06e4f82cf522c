"""What every operation of the JSON API documents alike: the error body and the errors any caller
may meet (OpenAPI ``responses``). Feature routers add their own (404, 409, …) beside these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error of this API: a Chinese message for people, a stable code for programs."""

    detail: str = Field(description="给人看的中文说明 / message for people, in Chinese")
    code: str = Field(description="稳定的机器代码 / stable machine code, e.g. bad_transition")
    errors: dict[str, str] | list[dict[str, Any]] | None = Field(
        default=None, description="逐字段的错误（仅 422）/ per-field messages (422 only)")

    model_config = {"json_schema_extra": {"examples": [
        {"detail": "API 令牌无效、已过期或已被撤销", "code": "invalid_token"},
        {"detail": "请求格式不正确", "code": "validation_error",
         "errors": [{"loc": ["query", "period"], "msg": "String should match pattern"}]},
    ]}}


def err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: err("未登录或登录已过期（code: unauthenticated）；API 令牌无效、已过期或已撤销（code: invalid_token） / "
             "not logged in, or the API token is unknown, expired or revoked"),
    403: err("无权进行此操作（code: forbidden）；CSRF 令牌缺失或不符（code: csrf_failed、bad_origin，仅登录用户）；"
             "API 令牌不能用于此接口（code: token_not_allowed、token_level、token_read_only） / "
             "not allowed: CSRF failure (cookie sessions), or the API token's level does not admit this operation"),
    429: err("请求过于频繁（code: rate_limited），响应头 Retry-After 为需等待的秒数 / "
             "rate limit of the API token exceeded; wait Retry-After seconds"),
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: err("填写有误：detail 为中文说明，errors 为逐字段说明（code: invalid、validation_error、bad_period 等） / "
             "invalid input, with per-field errors")}
ORG_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: err("找不到该组织，或不在您的范围内（code: not_found） / organisation not found or outside your scope")}

# The period parameter of the boards, reports and rankings: the keys the pages use in ?period=.
PERIOD_PATTERN = r"^\d{4}(-(h[12]|q[1-4]|\d{2}|ytd\d{2}|ytdq[1-4]|\d{2}~\d{2}))?$"
PERIOD_DESCRIPTION = (
    "统计期间（省略为今年年初至本月）：`2026` 全年、`2026-h1` 上半年、`2026-q3` 第三季度、`2026-09` 某月、"
    "`2026-ytd09` 年初至9月、`2026-ytdq3` 年初至第三季度末、`2026-04~09` 4至9月 / "
    "the period: a year, half, quarter, month, year to date, or a span of months within one year")

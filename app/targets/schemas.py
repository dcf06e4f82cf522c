"""The targets' JSON shapes (API v1)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.models.base import MAX_BIGINT


class IndicatorRead(BaseModel):
    id: int
    task: str = Field(description="所属实事（简称）")
    name: str
    unit: str
    kind: str = Field(description="count：整数；money：万元，两位小数")


class TargetValue(BaseModel):
    indicator_id: int
    value: int = Field(description="存储值：计数原样；金额以 0.01 万元为单位 / counts as is, money in hundredths of 万元")
    text: str = Field(description="按单位显示的数值，如 12.5（万元） / the value as people read it")


class OrgTargets(BaseModel):
    code: str = Field(description="6 位行政区划代码")
    name: str
    is_self: bool = Field(description="true：所查询的组织本级；false：下一级组织")
    targets: list[TargetValue] = Field(description="已设置的目标（未设置的指标不列出）")


class TargetsRead(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "org_code": "532900", "org_name": "大理州政协", "year": 2026, "editable": False,
        "indicators": [{"id": 1, "task": "特色产业与技术服务", "name": "发展产业项目", "unit": "个", "kind": "count"}],
        "rows": [{"code": "532900", "name": "大理州政协", "is_self": True,
                  "targets": [{"indicator_id": 1, "value": 160, "text": "160"}]}], "warnings": {}}]}}

    org_code: str
    org_name: str
    year: int
    editable: bool = Field(description="当前用户能否设置这些目标")
    indicators: list[IndicatorRead] = Field(description="当前活动目录中该组织适用的指标，按实事分组的顺序")
    rows: list[OrgTargets] = Field(description="本级，然后是下一级各组织")
    warnings: dict[int, str] = Field(default_factory=dict,
                                     description="指标编号 → 下级目标合计与本级目标不一致的提示（不影响保存）")


class TargetInput(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    org: str = Field(pattern=r"^\d{6}$", description="组织的 6 位行政区划代码，如 530102")
    indicator_id: int = Field(ge=1, le=MAX_BIGINT)
    value: str | None = Field(default=None, max_length=32,
                              description="目标数值文本（计数为整数；金额单位万元，最多两位小数）；null 或空串表示清除该目标")


class TargetsUpdate(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"year": 2026, "targets": [{"org": "532930", "indicator_id": 1, "value": "12"}]}]}}

    year: int = Field(ge=1900, le=9999, description="年份（系统接受 2020 年至明年）")
    targets: list[TargetInput] = Field(min_length=1, max_length=5000)


class TargetsSaved(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"created": 1, "updated": 0, "unchanged": 0, "cleared": 0}]}}

    created: int
    updated: int
    unchanged: int
    cleared: int

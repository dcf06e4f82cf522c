"""Each office's settings for its 研判 meeting (issue 19): the big screen's playlist and theme, and N for
挂联实效 (a linked leader with no activity of their own in the county for N months is flagged).

An organisation without a row has the defaults (app/models/meeting.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.audit.service import record as audit
from app.auth.principal import Principal
from app.clock import now_utc
from app.errors import Invalid
from app.models import Organisation
from app.models.meeting import DEFAULT_PLAYLIST, PLAYLIST_KINDS, MeetingSetting


def settings_for(session: Session, org_id: int) -> MeetingSetting:
    """The organisation's settings, or the defaults (an unsaved row) when it has none."""
    row = session.get(MeetingSetting, org_id)
    return row if row is not None else MeetingSetting(org_id=org_id, playlist=DEFAULT_PLAYLIST, theme="light",
                                                      link_idle_months=3)


def playlist_of(setting: MeetingSetting) -> list[str]:
    """The playlist's page kinds in order (unknown names, left by an older release, are skipped)."""
    return [k for k in (part.strip() for part in setting.playlist.split(",")) if k in PLAYLIST_KINDS]


# --- the office changes them (issue 19: /meeting/CODE/settings) -----------------------------------

KIND_LABELS = {"overview": "工作进度总览", "problems": "问题清单", "followups": "上次研判会督办事项",
               "lagging": "进度落后的重点县（从低到高）", "counties": "全部县（区）"}
THEME_LABELS = {"light": "浅色", "dark": "深色"}
IDLE_MONTHS = (1, 24)


def save_settings(session: Session, by: Principal, org: Organisation, *, playlist: list[str], theme: str,
                  link_idle_months: str | int) -> MeetingSetting:
    """Set ``org``'s meeting settings (``org`` loaded for staff by the caller); audited, committed.
    Saving what is already there writes nothing, so a retried POST leaves one audit entry."""
    errors: dict[str, str] = {}
    kinds = [k.strip() for k in playlist if k and k.strip()]
    if any(k not in PLAYLIST_KINDS for k in kinds):
        errors["playlist"] = "播放内容只能从列出的几项中选择"
    elif len(set(kinds)) != len(kinds):
        errors["playlist"] = "同一项内容只能选一次"
    elif not kinds:
        errors["playlist"] = "请至少选择一项播放内容"
    if theme not in THEME_LABELS:
        errors["theme"] = "请选择浅色或深色"
    try:
        months = int(str(link_idle_months).strip())
    except ValueError:
        months = 0
    if not IDLE_MONTHS[0] <= months <= IDLE_MONTHS[1]:
        errors["link_idle_months"] = f"月数须为 {IDLE_MONTHS[0]}–{IDLE_MONTHS[1]} 之间的整数"
    if errors:
        raise Invalid("大屏设置有误，请按提示修改", code="meeting_settings_invalid", errors=errors)

    row = session.get(MeetingSetting, org.id)
    before = _shown(row) if row is not None else None
    playing = ",".join(kinds)
    after = {"playlist": playing, "theme": theme, "link_idle_months": months}
    if row is not None and before == after:
        return row
    if row is None:
        row = MeetingSetting(org_id=org.id)
        session.add(row)
    row.playlist, row.theme, row.link_idle_months = playing, theme, months
    row.updated_by_user_id, row.updated_at = by.user_id or None, now_utc()
    audit(session, actor=by.actor, action="meeting.settings", target_type="meeting_setting", target_id=org.id,
          org_id=org.id, before=before, after=after)
    session.commit()
    return row


def _shown(row: MeetingSetting) -> dict:
    return {"playlist": row.playlist, "theme": row.theme, "link_idle_months": row.link_idle_months}

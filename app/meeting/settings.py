"""Each office's settings for its 研判 meeting (issue 19): the big screen's playlist and theme, and N for
挂联实效 (a linked leader with no activity of their own in the county for N months is flagged).

An organisation without a row has the defaults (app/models/meeting.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.models.meeting import DEFAULT_PLAYLIST, PLAYLIST_KINDS, MeetingSetting


def settings_for(session: Session, org_id: int) -> MeetingSetting:
    """The organisation's settings, or the defaults (an unsaved row) when it has none."""
    row = session.get(MeetingSetting, org_id)
    return row if row is not None else MeetingSetting(org_id=org_id, playlist=DEFAULT_PLAYLIST, theme="light",
                                                      link_idle_months=3)


def playlist_of(setting: MeetingSetting) -> list[str]:
    """The playlist's page kinds in order (unknown names, left by an older release, are skipped)."""
    return [k for k in (part.strip() for part in setting.playlist.split(",")) if k in PLAYLIST_KINDS]

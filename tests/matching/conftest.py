"""补位匹配's tests stand on the meeting's small world (五华 a key county of 昆明, 曲靖 outside, 23 November)."""

from tests.meeting.conftest import world  # noqa: F401 - the fixture, shared

"""牵头统筹's tests stand in the 研判 meeting's world (tests/meeting/conftest.py)."""

from tests.meeting.conftest import world  # noqa: F401 - the fixture, shared

"""Every import kind, registered by importing its module (``app.imports.base.KINDS``); ``ORDER`` is the order the pages list them in."""

from __future__ import annotations

from app.imports import (  # noqa: F401 - each registers itself
    assignments,
    history,
    members,
    orgs,
    targets,
)

ORDER = ("orgs", "members", "targets", "assignments", "history")

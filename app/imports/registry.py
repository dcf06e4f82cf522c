"""Every import kind, registered by importing its module (``app.imports.base.KINDS``), in page order."""

from __future__ import annotations

from app.imports import (  # noqa: F401 - page order
    assignments,
    history,
    members,
    orgs,
    targets,
)

"""Every import kind, registered by importing its module (``app.imports.base.KINDS``), in page order."""

from __future__ import annotations

from app.imports import orgs, members, targets  # noqa: F401, I001 - page order

try:  # helper H2's kind; the guard goes once app/imports/history.py is in the tree
    from app.imports import history  # noqa: F401 - registers "history"
except ImportError:  # pragma: no cover
    pass

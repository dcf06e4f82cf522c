"""Every import kind, registered by importing its module (``app.imports.base.KINDS``), in page order."""

from __future__ import annotations

from app.imports import orgs, members, targets, assignments  # noqa: F401, I001 - page order
from app.imports import history  # noqa: F401 - 汇总录入 (helper H2's kind)

"""The sender: delivers queued SMS and robot notices (to be written: retries, backoff, quiet hours)."""

from __future__ import annotations


def wake() -> None:
    """Tell this process's sender a notice was just queued."""

"""Activities: recording (idempotent), correcting, withdrawing, verifying, returning, reopening,
participant requests, closed months — the rules of DOMAIN.md's "Credit, verification and the life
of an activity", written once. Pages, the JSON API and the CLI all call these functions.

Every use case commits once at its end; loaders answer 404 for what the caller may not see.

The rules live in one module per job, and this module is their one entry point (pages, the JSON API,
the CLI, imports and tests call ``service.X``): ``values`` (typed values ↔ stored integers),
``scope`` (who sees and reviews what; loaders), ``months`` (closed months), ``recording`` (record,
correct, withdraw), ``review`` (states and transitions, verification, participant requests), ``lists``
(the lists and the likely duplicates), ``read`` (batch read models), ``choices`` (the form's pickers).
"""

from __future__ import annotations

from app.activities.choices import (
    counties_for,
    default_county,
    org_options,
    search_members,
    search_sites,
    task_choices,
)
from app.activities.lists import (
    CURSOR_ORDERS,
    ActivityFilters,
    likely_duplicates,
    list_by_cursor,
    list_visible,
    my_activities,
    review_queue,
)
from app.activities.months import (
    close_month,
    closed_months,
    is_month_closed,
    month_closed,
    reopen_month,
)
from app.activities.read import (
    to_read,
)
from app.activities.recording import (
    RecordResult,
    correct_activity,
    fingerprint,
    record_activity,
    recording_org,
    withdraw,
)
from app.activities.review import (
    STATUS_LABELS,
    TRANSITIONS,
    bulk_verify,
    decide_participant,
    pending_requests,
    reopen,
    request_to_join,
    return_activity,
    verify,
)
from app.activities.scope import (
    activity_for_read,
    activity_for_recorder,
    activity_for_review,
    reviewable_by,
    visible_to,
)
from app.activities.values import (
    MAX_COUNT,
    MAX_MONEY_HUNDREDTHS,
    display_value,
    parse_value,
)

__all__ = [
    "MAX_COUNT",
    "MAX_MONEY_HUNDREDTHS",
    "parse_value",
    "display_value",
    "visible_to",
    "reviewable_by",
    "activity_for_read",
    "activity_for_review",
    "activity_for_recorder",
    "month_closed",
    "is_month_closed",
    "close_month",
    "reopen_month",
    "closed_months",
    "RecordResult",
    "recording_org",
    "fingerprint",
    "record_activity",
    "correct_activity",
    "withdraw",
    "STATUS_LABELS",
    "TRANSITIONS",
    "verify",
    "return_activity",
    "reopen",
    "bulk_verify",
    "request_to_join",
    "decide_participant",
    "pending_requests",
    "ActivityFilters",
    "my_activities",
    "review_queue",
    "list_visible",
    "CURSOR_ORDERS",
    "list_by_cursor",
    "likely_duplicates",
    "to_read",
    "task_choices",
    "search_sites",
    "search_members",
    "org_options",
    "default_county",
    "counties_for",
]

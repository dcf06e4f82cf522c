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
    add_outcomes,
    check_new_activity,
    correct_activity,
    fingerprint,
    record_activity,
    recording_org,
    withdraw,
)
from app.activities.review import (
    RETURN_REASONS,
    STATUS_LABELS,
    TRANSITIONS,
    BulkResult,
    MergeResult,
    ParticipantEvent,
    bulk_verify,
    decide_participant,
    merge,
    participant_history,
    pending_requests,
    remove_participant,
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
    "CURSOR_ORDERS",
    "MAX_COUNT",
    "MAX_MONEY_HUNDREDTHS",
    "RETURN_REASONS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "ActivityFilters",
    "BulkResult",
    "MergeResult",
    "ParticipantEvent",
    "RecordResult",
    "activity_for_read",
    "activity_for_recorder",
    "activity_for_review",
    "add_outcomes",
    "bulk_verify",
    "check_new_activity",
    "close_month",
    "closed_months",
    "correct_activity",
    "counties_for",
    "decide_participant",
    "default_county",
    "display_value",
    "fingerprint",
    "is_month_closed",
    "likely_duplicates",
    "list_by_cursor",
    "list_visible",
    "merge",
    "month_closed",
    "my_activities",
    "org_options",
    "parse_value",
    "participant_history",
    "pending_requests",
    "record_activity",
    "recording_org",
    "remove_participant",
    "reopen",
    "reopen_month",
    "request_to_join",
    "return_activity",
    "review_queue",
    "reviewable_by",
    "search_members",
    "search_sites",
    "task_choices",
    "to_read",
    "verify",
    "visible_to",
    "withdraw",
]

"""The live-help API for interview authors: set_live_help_status,
chat_partners_available, get_chat_log (PRODUCT.md C1–C3).

These act on the interview session whose code or template is running: the
handler sets `current_context` (a context variable) around each run. The interview
engine does not import this module: it is handed `interview_namespace()`.
"""

from __future__ import annotations

import zoneinfo
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from state.livehelp.errors import InterviewContextError
from state.livehelp.model import LiveHelp
from state.livehelp.rules import AVAILABILITIES, HELP, MODES, UNAVAILABLE, LiveHelpSettings
from state.store.base import ChatMessage, SessionRecord


@dataclass
class InterviewContext:
    """The session an interview run acts on, with its chat log loaded beforehand."""

    record: SessionRecord
    livehelp: LiveHelp
    participant: str
    chat_log: list[ChatMessage] = field(default_factory=list)


current_context: ContextVar[InterviewContext | None] = ContextVar("livehelp_interview", default=None)


def conversation_for(record: SessionRecord, participant: str) -> str:
    """The conversation the participant sees: shared in peer modes, private in help mode."""
    return LiveHelpSettings.of(record.live_help).conversation(record.id, participant)


async def load_context(record: SessionRecord, livehelp: LiveHelp, participant: str,
                       with_chat_log: bool = True) -> InterviewContext:
    """Build the context for one interview run; the chat log is read here, once, when
    the interview uses it (templates and code cannot wait for the store)."""
    log = []
    if with_chat_log:
        log = await livehelp.store.get_messages(conversation_for(record, participant))
    return InterviewContext(record, livehelp, participant, log)


def _context() -> InterviewContext:
    context = current_context.get()
    if context is None:
        raise InterviewContextError(
            "the live-help functions can only be called from a running interview")
    return context


def _roles(value: Any, argument: str) -> list[str]:
    roles = [value] if isinstance(value, str) else value
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) and r for r in roles):
        raise ValueError(f"{argument} must be a role name or a list of role names")
    return list(roles)


def set_live_help_status(availability: str | None = None, mode: str | None = None,
                         partner_roles: str | list[str] | None = None,
                         rating: bool | None = None) -> None:
    """Change the session's live-help settings; an omitted argument leaves its setting alone.
    `rating`: whether a help chat's user is asked to rate it when it ends (default: the
    config's `satisfaction: ask`)."""
    context = _context()
    settings = dict(context.record.live_help)
    if availability is not None:
        if availability not in AVAILABILITIES:
            raise ValueError(f"availability must be one of {', '.join(AVAILABILITIES)}, "
                             f"not {availability!r}")
        settings["availability"] = availability
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        settings["mode"] = mode
    if partner_roles is not None:
        roles = _roles(partner_roles, "partner_roles")
        if not roles:
            raise ValueError("partner_roles must name at least one role")
        settings["partner_roles"] = roles
    if rating is not None:
        if not isinstance(rating, bool):
            raise ValueError(f"rating must be True or False, not {rating!r}")
        settings["rating"] = rating
    settings.setdefault("availability", UNAVAILABLE)
    settings.setdefault("mode", HELP)
    if settings["availability"] != UNAVAILABLE and not settings.get("partner_roles"):
        raise ValueError("at least one partner role must be set (partner_roles=...)")
    settings.setdefault("partner_roles", [])
    context.record.live_help = settings


class ChatPartners(NamedTuple):
    help: int
    peer: int


def chat_partners_available(*roles: str | list[str],
                            partner_roles: str | list[str] | None = None) -> ChatPartners:
    """How many operators (.help) and other users of this session (.peer) could chat now."""
    context = _context()
    wanted: list[str] = []
    for role in roles:
        wanted += _roles(role, "roles")
    if partner_roles is not None:
        wanted += _roles(partner_roles, "partner_roles")
    help_count, peer_count = context.livehelp.partners_available(context.record.id, wanted)
    return ChatPartners(help_count, peer_count)


def get_chat_log(utc: bool = False, timezone: str | None = None) -> list[dict]:
    """The session's chat messages, oldest first, as dicts with a tz-aware `datetime`."""
    context = _context()
    if utc:
        zone = UTC
    elif timezone is not None:
        try:
            zone = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}") from None
    else:
        zone = None  # the server's local zone
    log = []
    for message in context.chat_log:
        moment: datetime = message.time.astimezone(zone)
        log.append({
            "message": message.text,
            "datetime": moment,
            "user_email": message.sender_email,
            "user_first_name": message.sender_first_name,
            "user_last_name": message.sender_last_name,
        })
    return log


def interview_namespace() -> dict[str, Any]:
    """The names interview code and templates may call."""
    return {
        "set_live_help_status": set_live_help_status,
        "chat_partners_available": chat_partners_available,
        "get_chat_log": get_chat_log,
    }

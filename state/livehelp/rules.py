"""The live-help settings of a session and the rules that follow from them, written once.

An interview sets three things (PRODUCT.md C1): its *availability* (`available`:
chat offered; `observeonly`: listed on the Monitor, no chat; `unavailable`: live
help off), its *mode* (`help`: each user with the operators; `peer`: the users of
one shared session together; `peerhelp`: both at once) and the operator roles it
asks for. Everything else here is derived from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AVAILABLE = "available"
UNAVAILABLE = "unavailable"
OBSERVE_ONLY = "observeonly"
AVAILABILITIES = (AVAILABLE, UNAVAILABLE, OBSERVE_ONLY)

HELP = "help"
PEER = "peer"
PEERHELP = "peerhelp"
MODES = (HELP, PEER, PEERHELP)


def client_key(session_id: str, participant: str) -> str:
    """One interviewee browser in one session: "<session id>|<participant>"."""
    return f"{session_id}|{participant}"


def session_of(key: str) -> str:
    """The session of a client key, or of a conversation id (a help conversation's id
    is its client's key; a shared one's is its session's)."""
    return key.partition("|")[0]


@dataclass(frozen=True)
class LiveHelpSettings:
    """A session's live-help settings, as its record stores them (`record.live_help`)."""

    availability: str = UNAVAILABLE
    mode: str = HELP
    partner_roles: tuple[str, ...] = ()
    # Ask the user to rate a help chat when it ends (satisfaction.py); None: the config's.
    rating: bool | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> LiveHelpSettings:
        return cls(stored.get("availability", UNAVAILABLE), stored.get("mode", HELP),
                   tuple(stored.get("partner_roles", ())), stored.get("rating"))

    @property
    def listed(self) -> bool:
        """Shown on the Monitor (and observable): live help is on, with or without chat."""
        return self.availability in (AVAILABLE, OBSERVE_ONLY)

    @property
    def chat_offered(self) -> bool:
        return self.availability == AVAILABLE

    @property
    def shared_conversation(self) -> bool:
        """Everyone in the session shares one conversation (the peer modes)."""
        return self.mode in (PEER, PEERHELP)

    @property
    def operators_chat(self) -> bool:
        """Operators take part in the session's conversations."""
        return self.mode in (HELP, PEERHELP)

    @property
    def needs_operator(self) -> bool:
        """Chat is only possible with an operator (no peers to talk to)."""
        return self.mode == HELP

    def conversation(self, session_id: str, participant: str) -> str:
        """The conversation a participant sees: the session's in peer modes, else their own."""
        return session_id if self.shared_conversation else client_key(session_id, participant)

"""What the history search takes as words, how it marks them in hits, and the
listing's cursors: shared by both stores (history.py), so both answer alike."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from state.store.base import (
    HISTORY_PAGE_MAX,
    MARK_END,
    MARK_START,
    ConversationSummary,
    HistoryQuery,
)
from state.store.sqlite_rows import from_text, to_text

# Words of one search, at most: each is one more lookup in the full-text index.
MAX_SEARCH_WORDS = 16
# Runs of letters and digits: what both full-text indexes take as one word.
_WORD = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words typed, each taken as it is: quotes go (they would open a phrase) and
    so do backslashes ($text reads one before a quote as an escape); a "word" without
    a letter or digit would match nothing."""
    spaced = text.replace('"', " ").replace("\\", " ")
    words = [word for word in spaced.split() if _WORD.search(word)]
    return list(dict.fromkeys(words))[:MAX_SEARCH_WORDS]


def quoted(words: list[str]) -> str:
    """Each word in double quotes: FTS5 and MongoDB's $text read no operator inside
    (OR, NOT, -, *, ^ and : are text there), and quoted words must all match."""
    return " ".join(f'"{word}"' for word in words)


def folded(text: str) -> str:
    """Text as the indexes compare words: without case or accents (unicode61, MongoDB)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def folded_parts(words: list[str]) -> list[str]:
    """The letters-and-digits runs of `words`, folded: what the indexes look up."""
    return [folded(part) for word in words for part in _WORD.findall(word)]


def marked(text: str, words: list[str]) -> str:
    """`text` with each word that matches one of `words` between MARK_START and
    MARK_END; any of those two characters in the text itself are dropped first, so
    every mark is ours."""
    wanted = set(folded_parts(words))
    plain = text.replace(MARK_START, "").replace(MARK_END, "")
    return _WORD.sub(lambda m: f"{MARK_START}{m[0]}{MARK_END}" if folded(m[0]) in wanted
                     else m[0], plain)


def page_size(query: HistoryQuery) -> int:
    return max(1, min(query.limit, HISTORY_PAGE_MAX))


def cursor_of(summary: ConversationSummary) -> str:
    """Where the next (older) page starts: after this conversation."""
    return f"{to_text(summary.last_time)} {summary.conversation}"


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    moment, _, conversation = cursor.partition(" ")
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or not conversation:
        raise ValueError(f"not a history cursor: {cursor!r}")
    return from_text(moment), conversation


def sender_name(first: str | None, last: str | None) -> str:
    return f"{first or ''} {last or ''}".strip()

"""Searchable history over 1,000,000 stored messages (SQLite): how fast the history
page's queries answer.

Seeds a fresh SQLite store with `--messages` chat messages in `--conversations`
conversations over `--days` days, answered by `--operators` operators: text of about
20 words a message drawn from a vocabulary of `--vocabulary` words with Zipf-like
frequencies. The rows go in with plain SQL in large transactions, in time order,
each followed by the store's own catch-up (history.catch_up: the summaries and the
full-text index, as after chat); seeding prints what the catch-up cost a message. Then each query runs `--runs` times
through the store (SQLiteStore.search_messages / list_conversations, on its thread,
marks included) and the p50/p99 are printed (target: search p99 < 100 ms), with
the time of the reports page's 90-day report (its store query and figures, with
ratings seeded for 40 % of the conversations).

    python bench/history_search.py                       # 1,000,000 messages; ~3 minutes
    python bench/history_search.py --messages 100000 --conversations 5000

Not a test: it asserts nothing. Prints how long seeding took and the database size.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The repository instead of bench/ (whose queue.py would hide the standard library's).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from state.livehelp.report_figures import build_report
from state.store.base import HistoryQuery
from state.store.history import catch_up
from state.store.reports import ReportDays
from state.store.sqlite import SQLiteStore
from state.store.sqlite_rows import MESSAGE_COLUMNS, open_connection, to_text

# Messages per transaction while seeding: large enough that commits cost nothing.
SEED_TRANSACTION = 50_000
# The last moment of the seeded history; conversations end before it.
END = datetime(2026, 6, 30, tzinfo=UTC)
INTERVIEWS = ("eviction", "child-support", "deposit", "benefits", "debt", "immigration")
FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Grace", "Hiro", "Ines",
               "Jonas", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa",
               "Sven", "Tara", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe")
LAST_NAMES = ("Abara", "Berg", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
              "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor",
              "Petrov", "Quispe", "Rossi", "Silva", "Tanaka", "Umarov", "Varga", "Weber",
              "Xu", "Yilmaz", "Zhang", "Lovelace", "Hopper", "Noether", "Curie")
# Real words put at chosen frequency ranks of the vocabulary (1 = most frequent), so the
# queries below ask for words as common or as rare as the names say.
PLACED_WORDS = {1: "the", 8: "landlord", 40: "deposit", 90: "support", 150: "child",
                2500: "quitclaim"}
SYLLABLES = [consonant + vowel for consonant in "bdfklmnprstvz" for vowel in "aeiou"]


def vocabulary(size: int, rng: random.Random) -> tuple[list[str], list[float]]:
    """`size` distinct words, most frequent first, and their cumulative Zipf weights."""
    words: list[str] = []
    seen = set(PLACED_WORDS.values())
    while len(words) < size:
        rank = len(words) + 1
        if rank in PLACED_WORDS:
            words.append(PLACED_WORDS[rank])
            continue
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = [1 / rank ** 1.07 for rank in range(1, size + 1)]
    return words, list(itertools.accumulate(weights))


def plan(args: argparse.Namespace, rng: random.Random) -> tuple[list[dict], list[tuple]]:
    """The conversations (who, which interview, which operators) and every message's
    (time in ms, conversation number, seq, sender role), in time order."""
    operators = [(f"op{n}@example.org", rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
                 for n in range(args.operators)]
    span_ms = args.days * 86_400_000
    end_ms = int(END.timestamp() * 1000)
    conversations, messages = [], []
    sizes = [rng.randint(4, 36) for _ in range(args.conversations)]
    scale = args.messages / sum(sizes)
    for number, size in enumerate(sizes):
        size = max(1, round(size * scale))
        session = f"s{number:07d}{rng.getrandbits(48):012x}"
        signed_in = rng.random() < 0.7
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        person = ((f"{first.lower()}.{last.lower()}{number}@example.net", first, last)
                  if signed_in else (None, None, None))
        helpers = rng.sample(operators, 2 if rng.random() < 0.2 else 1)
        conversations.append({"id": f"{session}|{'u:' if signed_in else 'b:'}{number}",
                              "session": session, "interview": rng.choice(INTERVIEWS),
                              "person": person, "operators": helpers,
                              "key": f"u:p{number}" if signed_in else f"b:{number}"})
        moment = end_ms - rng.randrange(span_ms) - 3_600_000
        for seq in range(1, size + 1):
            role = "user" if seq == 1 or rng.random() < 0.55 else "operator"
            messages.append((moment, number, seq, role))
            moment += rng.randint(5_000, 120_000)
    messages.sort()
    return conversations, messages


def seed(path: Path, args: argparse.Namespace) -> tuple[float, float, list[dict]]:
    """Write sessions and messages with SQL; the seconds it took, and of those the
    seconds the catch-ups took."""
    rng = random.Random(args.seed)
    words, cumulative = vocabulary(args.vocabulary, rng)
    conversations, messages = plan(args, rng)
    started = time.perf_counter()
    connection = open_connection(path, busy_timeout_ms=5000)
    # For the load only: a page cache that holds the indexes being built, and no fsync
    # (a crash would lose a bench file).
    connection.execute("PRAGMA cache_size = -1000000")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO sessions (id, interview, owner_id, answers, progress, live_help, blocked,"
        " created, updated) VALUES (?, ?, NULL, '{}', '{}', '{}', 0, ?, ?)",
        [(c["session"], c["interview"], to_text(END), to_text(END)) for c in conversations])
    connection.execute("COMMIT")
    insert = (f"INSERT INTO messages ({MESSAGE_COLUMNS})"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    caught_up = 0.0
    for start in range(0, len(messages), SEED_TRANSACTION):
        chunk = messages[start:start + SEED_TRANSACTION]
        lengths = [rng.randint(8, 32) for _ in chunk]
        drawn = iter(rng.choices(words, cum_weights=cumulative, k=sum(lengths)))
        rows = []
        for (moment, number, seq, role), length in zip(chunk, lengths, strict=True):
            conversation = conversations[number]
            if role == "user":
                key, (email, first, last) = conversation["key"], conversation["person"]
            else:
                helpers = conversation["operators"]
                email, first, last = helpers[0] if seq < 12 else helpers[-1]
                key = f"u:{email}"
            text = " ".join(itertools.islice(drawn, length))
            rows.append((conversation["id"], seq, conversation["session"], key, role, text,
                         f"c{seq}", email, first, last,
                         to_text(epoch + timedelta(milliseconds=moment))))
        connection.execute("BEGIN")
        connection.executemany(insert, rows)
        connection.execute("COMMIT")
        folding = time.perf_counter()
        catch_up(connection)
        caught_up += time.perf_counter() - folding
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return time.perf_counter() - started, caught_up, conversations


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float, object]:
    """(p50 ms, p99 ms, the last result) of `runs` calls one after another, after one
    call not counted (it reads the query's pages into the cache; with 50 runs the p99
    is the slowest run, which would otherwise be that first read from the disk)."""
    await call()
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return statistics.median(durations), durations[min(len(durations) - 1,
                                                       int(0.99 * len(durations)))], result


# Conversations rated, of those seeded: about what a help desk that asks every time gets.
RATED_SHARE = 0.4


def seed_ratings(path: Path, conversations: list[dict], days: int, rng: random.Random) -> int:
    """Ratings for RATED_SHARE of the conversations, over the seeded days; how many."""
    rated = [c for c in conversations if rng.random() < RATED_SHARE]
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT OR IGNORE INTO ratings (id, conversation, session_id, interview, score,"
            " comment, operator_id, created) VALUES (?, ?, ?, ?, ?, '', NULL, ?)",
            [(f"r{n}", c["id"], c["session"], c["interview"], rng.randint(1, 5),
              to_text(END - timedelta(milliseconds=rng.randrange(days * 86_400_000))))
             for n, c in enumerate(rated)])
    return len(rated)


async def reports_page(store: SQLiteStore, days: int, runs: int) -> None:
    """The reports page's work for the last `days` days, as its handler does it: the
    store's facts (the conversation summaries, messages left, ratings) and the figures."""
    first, last = (END - timedelta(days=days)).date(), (END - timedelta(days=1)).date()

    async def report() -> tuple:
        span = ReportDays(first, last, UTC)
        totals = await store.report_totals(span)
        return totals, build_report(totals, span)

    p50, p99, (totals, _) = await timed(report, runs)
    ratings = sum(sum(day) for day in totals.scores)
    print(f"\nreports page, {days} days (report_totals + build_report), {runs} runs:"
          f" p50 {p50:.1f} ms  p99 {p99:.1f} ms  ({sum(totals.conversations):,} conversations,"
          f" {ratings:,} ratings)")


async def measure(path: Path, args: argparse.Namespace, conversations: list[dict]) -> None:
    # The seeding plan's objects stay out of the garbage collector's way: a full
    # collection walking them would show as a slow query.
    seed_ratings(path, conversations, args.days, random.Random(args.seed))
    gc.collect()
    gc.freeze()
    store = SQLiteStore(path)
    await store.open()
    week = (END - timedelta(days=args.days // 2 + 7), END - timedelta(days=args.days // 2))
    surname = "Noether"
    operator = conversations[0]["operators"][0][0]
    # One interviewee's email (a few conversations at most: the narrowest filter).
    someone = next(c["person"][0] for c in conversations if c["person"][0])
    searches = {
        "common word ('landlord')": HistoryQuery(text="landlord"),
        "most frequent word ('the')": HistoryQuery(text="the"),
        "rare word ('quitclaim')": HistoryQuery(text="quitclaim"),
        "two words ('child support')": HistoryQuery(text="child support"),
        f"word + person ('deposit', '{surname}')": HistoryQuery(text="deposit", person=surname),
        f"frequent word + one person ('the', '{someone}')": HistoryQuery(text="the",
                                                                         person=someone),
        f"word + operator ('deposit', {operator})": HistoryQuery(text="deposit",
                                                                 operator=operator),
        "word + interview ('deposit', 'debt')": HistoryQuery(text="deposit", interview="debt"),
        "word + 7 days mid-range ('deposit')": HistoryQuery(text="deposit", since=week[0],
                                                             until=week[1]),
        "word found nowhere ('zzzz')": HistoryQuery(text="zzzz"),
    }
    listings = {
        "newest page": HistoryQuery(),
        f"filtered page (operator {operator})": HistoryQuery(operator=operator),
        f"filtered page (person '{surname}')": HistoryQuery(person=surname),
        "filtered page (interview 'debt', 7 days)": HistoryQuery(
            interview="debt", since=week[0], until=week[1]),
    }
    print(f"\nsearch_messages, limit 50, {args.runs} runs each (target p99 < 100 ms):")
    worst = 0.0
    for name, query in searches.items():
        p50, p99, hits = await timed(lambda q=query: store.search_messages(q), args.runs)
        worst = max(worst, p99)
        print(f"  {name:<58} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({len(hits)} hits)")
    print(f"  worst search p99 {worst:.2f} ms: "
          f"{'meets target' if worst < 100 else 'MISSES target'}")
    print(f"\nlist_conversations, limit 50, {args.runs} runs each:")
    for name, query in listings.items():
        p50, p99, page = await timed(lambda q=query: store.list_conversations(q), args.runs)
        print(f"  {name:<58} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
              f"  ({len(page.conversations)} conversations)")
    await reports_page(store, 90, args.runs)
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--operators", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--vocabulary", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="seed into this file and keep it (must not"
                        " exist); reuse it with --reuse")
    parser.add_argument("--reuse", type=Path, help="measure an existing seeded file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livehelp-history-") as directory:
        path = args.reuse or args.keep or Path(directory) / "livehelp.sqlite3"
        if args.reuse:
            rng = random.Random(args.seed)
            vocabulary(args.vocabulary, rng)
            conversations = plan(args, rng)[0]
        else:
            asyncio.run(create(path))
            seconds, caught_up, conversations = seed(path, args)
            print(f"seeded {args.messages:,} messages in {args.conversations:,} conversations"
                  f" ({args.operators} operators, {args.days} days) in {seconds:.1f} s,"
                  f" {seconds / args.messages * 1e6:.1f} us a message, of which the catch-up"
                  f" (summaries and index) {caught_up / args.messages * 1e6:.1f} us")
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"database {path.name}: {size / 2**20:.0f} MiB")
        print("load average before measuring: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
        asyncio.run(measure(path, args, conversations))
        print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


async def create(path: Path) -> None:
    """The schema, as the server creates it."""
    store = SQLiteStore(path)
    await store.open()
    await store.close()


if __name__ == "__main__":
    main()

"""Chat throughput of the live-help model and the SQLite store alone, without sockets.

50 activated interviewees each send messages in turn to a model with 20 available
operators, all in one process: what the model's rules and the store's group commit
cost per message, to set against bench/chat.py (which adds the WebSocket layer).

    python bench/model_throughput.py
    python bench/model_throughput.py --users 100 --messages 400

Bounded, no network; prints one figure and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from state.config import Config, LimitsFile
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.store.base import SessionRecord, User, new_id
from state.store.sqlite import SQLiteStore


async def run(users: int, operators: int, messages: int) -> float:
    with tempfile.TemporaryDirectory(prefix="livehelp-model-") as directory:
        store = SQLiteStore(Path(directory) / "livehelp.sqlite3")
        await store.open()
        # A load, not one person: the per-sender chat limits would refuse most of it.
        unlimited = LimitsFile(chat_burst=1_000_000, chat_per_minute=60_000_000)
        model = LiveHelp(store, Hub(), Config(limits=unlimited))
        for number in range(operators):
            user = User(id=new_id(), email=f"op{number}@bench.invalid", password_hash="!",
                        privileges=["advocate"])
            await model.operators.connected(user)
            await model.operators.set_roles(user.id, ["advocate"])
            await model.operators.set_status(user.id, True)
        keys = []
        for number in range(users):
            record = SessionRecord(id=new_id(), interview="bench", live_help={
                "availability": "available", "mode": "help", "partner_roles": ["advocate"]})
            client = model.client_connected(record, "Bench", f"b:{number}", None)
            model.activate(client.key)
            keys.append(client.key)

        async def talk(key: str) -> None:
            for number in range(messages):
                await model.chat.user_chat(key, f"m{number}", "hello, I have a question")

        started = time.perf_counter()
        await asyncio.gather(*(talk(key) for key in keys))
        elapsed = time.perf_counter() - started
        await store.close()
        return users * messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="per user")
    args = parser.parse_args()
    rate = asyncio.run(run(args.users, args.operators, args.messages))
    print(f"model + SQLite store, no sockets: {args.users * args.messages:,} messages from "
          f"{args.users} users, {args.operators} operators: {rate:,.0f} msgs/s")


if __name__ == "__main__":
    main()

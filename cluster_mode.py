"""Cluster mode's composition (docs/architecture.md, "Several processes"): joins this
process's model to the others' through `state.cluster.Cluster`. Imported by server.py
only when the config has a `cluster:` section, so one process imports nothing of Redis.
"""

from __future__ import annotations

import os
import socket

from state.cluster import Cluster
from state.config import Config
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp


def join(config: Config, hub: Hub, livehelp: LiveHelp) -> Cluster:
    """The cluster: the Hub relays what operators see; the model lists the other
    processes' sessions and counts their operators (available, roles, load)."""
    cluster = Cluster(config.cluster.redis_url,
                      config.cluster.process_name or f"{socket.gethostname()}:{os.getpid()}",
                      hub.deliver, config.cluster.dead_after_seconds,
                      local_entries=livehelp.entries.listed)
    hub.relay = cluster.relay
    livehelp.remote = cluster.remote
    operators = livehelp.operators
    livehelp.operators_changed = cluster.stating(
        lambda: {"type": "operators", "operators": operators.report()})
    cluster.on("operators", lambda origin, message: operators.elsewhere(
        origin, message["operators"]))
    cluster.on_gone.append(lambda process: operators.elsewhere(process, []))
    return cluster

"""Cluster mode's composition (docs/architecture.md, "Several processes"): joins this
process's model to the others' through `state.cluster.Cluster`. Imported by server.py
only when the config has a `cluster:` section, so one process imports nothing of Redis.
"""

from __future__ import annotations

import os
import socket

from state.cluster import Cluster
from state.cluster.codes import RedisCodeLedger, RedisTally
from state.config import Config
from state.livehelp.hub import Hub
from state.livehelp.model import LiveHelp
from state.phone.codes import AccessCodes


def join(config: Config, hub: Hub, livehelp: LiveHelp, codes: AccessCodes) -> Cluster:
    """The cluster: the Hub relays what operators see; the model lists the other
    processes' sessions, counts their operators (available, roles, load) and claims
    operators' places in Redis; phone codes are checked on any process."""
    cluster = Cluster(config.cluster.redis_url,
                      config.cluster.process_name or f"{socket.gethostname()}:{os.getpid()}",
                      hub.deliver, config.cluster.dead_after_seconds,
                      local_entries=livehelp.entries.listed)
    hub.relay = cluster.relay
    livehelp.remote = cluster.remote
    cluster.on_roles = lambda: hub.deliver(
        "monitor", {"type": "roles", "roles": livehelp.requested_roles()})
    operators = livehelp.operators
    livehelp.operators_changed = cluster.stating(
        lambda: {"type": "operators", "operators": operators.report()})
    cluster.on("operators", lambda origin, message: operators.elsewhere(
        origin, message["operators"]))
    cluster.on_gone.append(lambda process: operators.elsewhere(process, []))
    # Places on operators are claimed in Redis, so two homes cannot overfill one.
    livehelp.routing.claims = cluster.load
    cluster.load.refused = livehelp.claim_refused
    cluster.on_gone.append(cluster.load.forget)
    cluster.relay.on_connect.append(
        lambda: cluster.load.restate(livehelp.routing.assignments()))
    # Phone codes every process can check, and one count of wrong codes for all.
    codes.share(RedisCodeLedger(cluster), RedisTally(cluster.redis))
    return cluster

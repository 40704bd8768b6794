"""Sessions are durable too: after a SIGKILL and restart, a client that reconnects within its
session timeout carries on with the same session and its ephemerals; a session nobody
reconnects expires on the restarted server, one timeout later, and its ephemerals go.
"""

import threading
import time

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from zkdproc import CONNECT_BOUND_S, close_quietly, connect

LIVE_TIMEOUT_S = 30.0  # far longer than a restart
GONE_TIMEOUT_S = 6.0  # the server's minimum is 2 x tickTime = 4 s
TICK_S = 2.0


def test_sessions_survive_restart(zkd_factory):
    server = zkd_factory()
    states = []
    reconnected = threading.Event()

    def listener(state):
        states.append(state)
        if state == KazooState.CONNECTED:
            reconnected.set()

    # Keeps retrying quickly and forever, so that it is back as soon as the server is.
    live = KazooClient(
        hosts="127.0.0.1:%d" % server.port,
        timeout=LIVE_TIMEOUT_S,
        connection_retry={"max_tries": -1, "delay": 0.05, "backoff": 1.2, "max_delay": 0.25},
    )
    live.start(timeout=CONNECT_BOUND_S)
    gone = connect(server.port, timeout=GONE_TIMEOUT_S)
    try:
        live_id, gone_id = live.client_id[0], gone.client_id[0]
        live.create("/live", b"mine", ephemeral=True)
        gone.create("/gone", b"mine too", ephemeral=True)
        watched = live.exists("/gone")
        assert watched.ephemeralOwner == gone_id
        # Inside [minSessionTimeout, maxSessionTimeout] = [4 s, 40 s], so granted as asked.
        negotiated = GONE_TIMEOUT_S
        live.add_listener(listener)

        server.kill()
        # The second client gives up without a word (its server is dead): only expiry on
        # the restarted server can end its session.
        close_quietly(gone)
        restarted_at = time.monotonic()
        server.restart()

        assert reconnected.wait(CONNECT_BOUND_S), (
            "the client did not reconnect; states: %s" % states
        )
        assert KazooState.LOST not in states, "the session was lost over the restart: %s" % states
        assert live.client_id[0] == live_id, "reconnected with another session"
        stat = live.exists("/live")
        assert (
            stat is not None and stat.ephemeralOwner == live_id
        ), "the live session's ephemeral is gone"
        assert live.get("/live")[0] == b"mine"
        live.set("/live", b"still mine")

        # The silent session was restored too, and lasts one timeout from the restart.
        seen_gone = live.exists("/gone")
        elapsed = time.monotonic() - restarted_at
        if elapsed < negotiated - TICK_S:
            assert seen_gone is not None and seen_gone.ephemeralOwner == gone_id, (
                "the silent session's ephemeral went %.1fs after the restart, before its "
                "%.0fs timeout" % (elapsed, negotiated)
            )
        deadline = restarted_at + negotiated + 2 * TICK_S + 5
        while live.exists("/gone") is not None:
            assert time.monotonic() < deadline, (
                "the silent session's ephemeral is still there %.1fs after the restart (timeout %.0fs)"
                % (time.monotonic() - restarted_at, negotiated)
            )
            time.sleep(0.1)
        expired_after = time.monotonic() - restarted_at
        print(
            "silent session (timeout %.0fs) expired %.1fs after the restart"
            % (negotiated, expired_after)
        )
        assert (
            expired_after > negotiated - TICK_S
        ), "the silent session expired %.1fs after the restart, before its %.0fs timeout" % (
            expired_after,
            negotiated,
        )
        # The live one outlived it, and its ephemeral is durable in turn.
        assert live.client_id[0] == live_id and live.exists("/live") is not None
    finally:
        close_quietly(live)

    server.kill()
    server.restart()
    zk = connect(server.port)
    try:
        assert zk.exists("/gone") is None, "the expired session's ephemeral came back"
        assert zk.exists("/live") is None, "the closed session's ephemeral came back"
    finally:
        close_quietly(zk)

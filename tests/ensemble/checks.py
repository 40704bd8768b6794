"""Small helpers the ensemble tests share: waiting for a condition, and reading through a
member after a sync (a member may lag its leader until a sync flushes the channel)."""

import time

# Keys Apache 3.8's mntr reports on the leader only (3.8 has no zk_followers any more).
LEADER_ONLY_MNTR_KEYS = (
    "zk_learners",
    "zk_synced_followers",
    "zk_synced_non_voting_followers",
    "zk_synced_observers",
    "zk_pending_syncs",
    "zk_leader_uptime",
    "zk_last_proposal_size",
    "zk_min_proposal_size",
    "zk_max_proposal_size",
)


def eventually(check, timeout=30, interval=0.1, what="condition"):
    """Calls check() until it returns a true value, which is returned; fails after timeout
    with the last value or exception."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # the last failure is what the message shows
            last = e
        if time.monotonic() > deadline:
            raise AssertionError("%s did not hold within %ss; last: %r" % (what, timeout, last))
        time.sleep(interval)


def synced_get(zk, path):
    """getData through zk's member once it has caught up with the leader up to now."""
    zk.sync(path)
    return zk.get(path)[0]


def synced_children(zk, path):
    zk.sync(path)
    return sorted(zk.get_children(path))


def session_member(ens, session_id):
    """Index of the member whose `cons` lists this session, or None."""
    needle = "sid=0x%x" % session_id
    for i in range(len(ens.members)):
        if needle in (ens.four_letter_word(i, "cons") or ""):
            return i
    return None

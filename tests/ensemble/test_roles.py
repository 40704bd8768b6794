"""Who leads and who follows, as operators see it through srvr and mntr."""

from checks import LEADER_ONLY_MNTR_KEYS, synced_get
from conftest import KINDS3, OBSERVER_KIND


def assert_roles(ens, leader):
    modes = ens.modes()
    assert [i for i, m in modes.items() if m == "leader"] == [leader], ens.describe_modes(modes)
    for i, mode in modes.items():
        if i != leader:
            want = "observer" if ens.members[i].observer else "follower"
            assert mode == want, ens.describe_modes(modes)


def assert_leader_only_mntr(ens, leader, followers, observers=0):
    for i in range(len(ens.members)):
        mntr = ens.mntr(i)
        want_state = "leader" if i == leader else ens.mode(i)
        assert mntr.get("zk_server_state") == want_state, (i, mntr.get("zk_server_state"))
        present = [k for k in LEADER_ONLY_MNTR_KEYS if k in mntr]
        if i == leader:
            assert present == list(LEADER_ONLY_MNTR_KEYS), "leader's mntr lacks %s" % sorted(
                set(LEADER_ONLY_MNTR_KEYS) - set(present)
            )
            assert int(mntr["zk_synced_followers"]) == followers
            assert int(mntr["zk_synced_observers"]) == observers
            assert int(mntr["zk_learners"]) == followers + observers
            assert int(mntr["zk_pending_syncs"]) == 0
        else:
            assert present == [], "member %d (%s) reports leader-only keys %s" % (
                i,
                ens.mode(i),
                present,
            )


def test_three_members_one_leader_two_followers(ensemble3):
    leader = ensemble3.wait_for_leader()
    # Started highest id first with equal (empty) histories: the highest id leads, which is
    # how a composition chooses the leader's kind.
    assert leader == 2, ensemble3.describe_modes()
    assert ensemble3.members[leader].kind == KINDS3[2]
    assert_roles(ensemble3, leader)
    assert_leader_only_mntr(ensemble3, leader, followers=2)
    for i in range(3):
        assert "zk_quorum_size\t3" in ensemble3.four_letter_word(i, "mntr")


def test_five_members_one_leader_four_followers(ensemble5):
    leader = ensemble5.wait_for_leader()
    assert leader == 4, ensemble5.describe_modes()
    assert_roles(ensemble5, leader)
    assert_leader_only_mntr(ensemble5, leader, followers=4)


def test_observer_reports_observer_and_serves(make_ensemble, clients):
    ens = make_ensemble(KINDS3, observers=[OBSERVER_KIND])
    leader = ens.start_all()
    observer = 3
    assert ens.mode(observer) == "observer"
    assert_roles(ens, leader)
    assert_leader_only_mntr(ens, leader, followers=2, observers=1)

    through_observer = clients(ens, [observer])
    through_voters = [clients(ens, [i]) for i in range(3)]
    through_observer.create("/from-observer", b"o")
    for zk in through_voters:
        assert synced_get(zk, "/from-observer") == b"o"
    through_voters[leader].create("/from-leader", b"l")
    assert synced_get(through_observer, "/from-leader") == b"l"

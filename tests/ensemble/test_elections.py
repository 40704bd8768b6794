"""Election outcomes ZooKeeper's documentation describes, made checkable: with equal
histories the highest id among the first majority wins; otherwise the member with the
highest (epoch, last zxid, id) does, and members joining an established ensemble follow it."""

from checks import synced_children
from conftest import KINDS5


def test_five_empty_servers_started_in_id_order_elect_server_3(make_ensemble):
    ens = make_ensemble(KINDS5)
    for i in (0, 1):
        ens.start(i)
        # One or two of five are no majority: they answer, but serve nobody.
        assert ens.mode(i) == "not serving", ens.describe_modes()
    assert ens.mode(0) == "not serving"
    ens.start(2)
    assert ens.wait_for_leader(among=[0, 1, 2]) == 2, ens.describe_modes()
    for i in (3, 4):
        ens.start(i)
        ens.wait_mode(i, "follower")
    assert ens.wait_for_leader() == 2, "a later, higher id took over: " + ens.describe_modes()


def test_survivor_with_the_highest_zxid_leads_not_the_highest_id(make_ensemble, clients):
    ens = make_ensemble(KINDS5)
    # Three first, so that server 3 leads (see the test above), then the other two.
    for i in range(3):
        ens.start(i)
    assert ens.wait_for_leader() == 2
    for i in (3, 4):
        ens.start(i)
    assert ens.wait_for_leader() == 2
    zk = clients(ens, [2])
    zk.ensure_path("/e")
    zk.create("/e/all-five", b"")
    # Servers 4 and 5 go; the other three still make a majority and write on without them.
    ens.stop(3)
    ens.stop(4)
    zk.create("/e/without-4-and-5", b"")
    zk.stop()
    for i in (0, 1):
        clients(ens, [i]).sync("/e")
    newest = ens.zxid(2)
    assert ens.zxid(0) == ens.zxid(1) == newest

    ens.kill(2)  # the leader: servers 1 and 2 are left, no majority
    for i in (0, 1):
        ens.wait_mode(i, "not serving")
    ens.start(3)  # server 4: a higher id, an older history
    # Same epoch; servers 1 and 2 have the newer zxid, and of those two 2 has the higher id.
    leader = ens.wait_for_leader(among=[0, 1, 3])
    assert leader == 1, ens.describe_modes()
    assert synced_children(clients(ens, [3]), "/e") == ["all-five", "without-4-and-5"]

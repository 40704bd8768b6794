"""The bed's network: one switch netns holding a bridge, and per host (and the controller)
a netns whose eth0 is a veth pair's end, the other end a port of the bridge.

Every bed has its own switch, so beds never see each other; ports are created inside the
switch netns directly (never in the machine's own netns), so names only need to be
unique within one bed. Nothing gets a default route: 10.77.0.0/24 is all a host can reach.
"""

import json
import subprocess

SUBNET_PREFIX = "10.77.0."
PREFIX_LEN = 24
CONTROLLER_IP = SUBNET_PREFIX + "1"
BRIDGE = "br0"


class NetError(RuntimeError):
    """An ip(8) command failed; the message holds the command and its error."""


def ip(*args, check=True):
    """Runs ip(8) with args; output as text. Raises NetError when check and it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise NetError(
            "ip %s: %s" % (" ".join(args), done.stderr.strip() or "exit %d" % done.returncode)
        )
    return done.stdout


def netns_names():
    """Names of every named network namespace on the machine."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def netns_add(name):
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")


def netns_pids(name):
    """Pids of the processes whose network namespace is name (none once it is gone)."""
    out = ip("netns", "pids", name, check=False)
    return [int(p) for p in out.split()]


def netns_del(name):
    """Deletes netns name; a missing one is not an error (cleanup after a crash)."""
    if name in netns_names():
        ip("netns", "del", name)


def make_switch(switch_ns):
    netns_add(switch_ns)
    ip("-n", switch_ns, "link", "add", BRIDGE, "type", "bridge")
    ip("-n", switch_ns, "link", "set", BRIDGE, "up")


def plug(switch_ns, port, ns, address):
    """Wires netns ns to the switch through port; ns gets eth0 with address/24."""
    ip("-n", switch_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
    ip("-n", switch_ns, "link", "set", port, "master", BRIDGE, "up")
    ip("-n", ns, "addr", "add", "%s/%d" % (address, PREFIX_LEN), "dev", "eth0")
    ip("-n", ns, "link", "set", "eth0", "up")


def set_port(switch_ns, port, up):
    """Link up or down on a bridge port: down cuts its host off the bed, both ways."""
    ip("-n", switch_ns, "link", "set", port, "up" if up else "down")


def port_is_up(switch_ns, port):
    """Whether the port is administratively up (not cut); False if it does not exist."""
    out = ip("-n", switch_ns, "-j", "link", "show", "dev", port, check=False)
    if not out.strip():
        return False
    return "UP" in json.loads(out)[0].get("flags", [])

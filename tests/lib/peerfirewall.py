"""Network partitions between ensemble members on one machine: cut a member's peer ports
(2888 and 3888), both ways, and leave its client port alone.

Every loopback connection that does not bind a source address comes from 127.0.0.1, so a
member's outgoing peer connections cannot be told apart by address. Each member therefore
runs in a cgroup v2 group of its own (the launcher moves itself in before exec, so every
socket it opens belongs to the group), and one nftables table drops, for each partitioned
member, packets of its group's sockets to or from peer ports and packets to or from peer
ports on its own address. The table is rebuilt whole, atomically, on every change. Needs
root, nft (Debian package nftables) and cgroup v2 mounted under /sys/fs/cgroup.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

PEER_PORTS = (2888, 3888)


class PartitionError(RuntimeError):
    """nft refused a rule set; the message holds its error and the rules."""


class PartitionUnsupported(PartitionError):
    """This machine cannot cut peer ports (needs root, nft and cgroup v2)."""


class PeerFirewall:
    """Cuts members' peer ports with one nftables table, rebuilt whole on every change."""

    def __init__(self, name):
        """name tells this ensemble's table and cgroups from other ensembles' ones."""
        self.table = "zkens_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        self.cgroup_root = None
        self.problem = None
        mount = self._cgroup2_mount()
        if os.geteuid() != 0:
            self.problem = "partitions need root (nftables and cgroups)"
        elif shutil.which("nft") is None:
            self.problem = "partitions need nft (apt-get install nftables; install-deps.sh does)"
        elif mount is None:
            self.problem = "partitions need a cgroup v2 hierarchy mounted under /sys/fs/cgroup"
        else:
            self.mount, self.mount_root_depth = mount
            self.cgroup_root = Path(self.mount) / ("zkens-" + name)
        self.cut = {}

    @staticmethod
    def _cgroup2_mount():
        """(mount point, depth of its root in the hierarchy) of cgroup v2 under /sys/fs/cgroup."""
        try:
            with open("/proc/self/mountinfo") as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in lines:
            fields = line.split()
            sep = fields.index("-")
            fstype, root, mount_point = fields[sep + 1], fields[3], fields[4]
            if fstype == "cgroup2" and (mount_point + "/").startswith("/sys/fs/cgroup/"):
                return mount_point, len([p for p in root.split("/") if p])
        return None

    def member_cgroup(self, member):
        """The cgroup.procs file a member's process moves itself into, or None."""
        if self.cgroup_root is None:
            return None
        group = self.cgroup_root / ("m%d" % member.myid)
        try:
            group.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self.problem = "cannot create cgroup %s: %s" % (group, e)
            self.cgroup_root = None
            return None
        member.cgroup = group
        return group / "cgroup.procs"

    def _nft(self, script):
        proc = subprocess.run(
            ["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=10
        )
        if proc.returncode != 0:
            raise PartitionError("nft failed (%d): %s\n%s" % (proc.returncode, proc.stderr, script))

    def _apply(self):
        ports = "{ %s }" % ", ".join(str(p) for p in PEER_PORTS)
        rules = []
        for member in self.cut.values():
            group = os.path.relpath(member.cgroup, "/sys/fs/cgroup")
            level = self.mount_root_depth + len(member.cgroup.relative_to(self.mount).parts)
            sock = 'socket cgroupv2 level %d "%s"' % (level, group)
            rules += [
                "%s tcp dport %s drop" % (sock, ports),
                "%s tcp sport %s drop" % (sock, ports),
                "ip daddr %s tcp dport %s drop" % (member.host, ports),
                "ip saddr %s tcp sport %s drop" % (member.host, ports),
            ]
        # Declaring the table first makes the delete valid when it does not exist yet.
        script = "table inet %s {}\ndelete table inet %s\n" % (self.table, self.table)
        if rules:
            script += (
                "table inet %s {\n chain output {\n"
                "  type filter hook output priority 0; policy accept;\n%s\n }\n}\n"
                % (self.table, "\n".join("  " + r for r in rules))
            )
        self._nft(script)

    def reset(self):
        """Drops what a run that was killed before its clean-up left in force."""
        if self.problem is None:
            self.cut.clear()
            self._apply()

    def partition(self, member):
        if self.problem or member.cgroup is None:
            raise PartitionUnsupported(self.problem or "%r was not started in a cgroup" % member)
        self.cut[member.index] = member
        self._apply()

    def heal(self, member):
        if self.cut.pop(member.index, None) is not None:
            self._apply()

    def close(self):
        if self.cut:
            self.cut.clear()
            self._apply()
        if self.cgroup_root is None or not self.cgroup_root.exists():
            return
        # A killed member stays in its group until its parent reaps it, which for members
        # started by an earlier command-line call is init, a moment later.
        deadline = time.monotonic() + 2
        groups = [g for g in self.cgroup_root.iterdir() if g.is_dir()] + [self.cgroup_root]
        for group in groups:
            while True:
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        print("peerfirewall: cannot remove %s: %s" % (group, e), file=sys.stderr)
                        break
                    time.sleep(0.05)

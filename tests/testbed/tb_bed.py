"""A named bed: N booted Debian hosts (systemd-nspawn --boot on an overlay of the cached
image, each in its own netns on the bed's bridge) and a controller netns that reaches
them over SSH with the bed's own key. See tests/README.md, "The nspawn test bed".

Everything a bed creates is recorded under STATE_ROOT/NAME before it is created, so
down() can undo a bed that failed halfway up, or one whose creator crashed.
"""

import concurrent.futures
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import tb_cgroup
import tb_image
import tb_net
from tb_proc import (
    BedError,
    ensure_nspawn_run,
    file_lock,
    is_mounted,
    kill_pid,
    run,
    start_time,
)

STATE_ROOT = Path(os.environ.get("ZKD_TESTBED_STATE", "/run/zkd-testbed"))
NETNS_PREFIX = "ztb-"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
MAX_HOSTS = 20
FIRST_HOST_OCTET = 11
POWEROFF_TIMEOUT_S = 20.0
BOOT_TIMEOUT_S = 120.0


def lock_path(name):
    return STATE_ROOT / (".%s.lock" % name)


class Host:
    """One booted host of a bed: its names, address and files (no live state)."""

    def __init__(self, bed_name, index, bed_dir):
        self.name = "zk%d" % index
        self.ip = tb_net.SUBNET_PREFIX + str(FIRST_HOST_OCTET + index - 1)
        self.netns = "%s%s-%s" % (NETNS_PREFIX, bed_name, self.name)
        self.machine = "%s%s-%s" % (NETNS_PREFIX, bed_name, self.name)
        self.cgroup = "%s/%s" % (bed_name, self.name)
        self.dir = bed_dir / "hosts" / self.name
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.root = self.dir / "merged"
        self.console_log = self.dir / "console.log"
        self.pid_file = self.dir / "nspawn.pid"

    def describe(self):
        return {
            "name": self.name,
            "ip": self.ip,
            "netns": self.netns,
            "root": str(self.root),
            "console_log": str(self.console_log),
        }

    def __repr__(self):
        return "Host(%s %s)" % (self.name, self.ip)


class Bed:
    """A bed's handle. Bed.up() creates one, Bed.attach() opens an existing one; as a
    context manager it takes the bed down on exit, whatever happened inside."""

    def __init__(self, name, host_count):
        if not NAME_PATTERN.match(name):
            raise BedError(
                "bad bed name %r: 1-20 of a-z, 0-9 and '-', starting with a letter or digit" % name
            )
        if not 1 <= host_count <= MAX_HOSTS:
            raise BedError("a bed has 1 to %d hosts, not %d" % (MAX_HOSTS, host_count))
        self.name = name
        self.dir = STATE_ROOT / name
        self.switch_netns = "%s%s-sw" % (NETNS_PREFIX, name)
        self.controller_netns = "%s%s-ctl" % (NETNS_PREFIX, name)
        self.controller_ip = tb_net.CONTROLLER_IP
        self.ssh_key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.hosts = [Host(name, i, self.dir) for i in range(1, host_count + 1)]
        self.image = None
        self.boot_seconds = None
        self._children = {}  # host name -> Popen of the nspawn this process started

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    def up(cls, name, hosts=3, boot_timeout=BOOT_TIMEOUT_S, log=print):
        """Builds the image if needed, creates the bed and boots its hosts in parallel;
        returns once every host's systemd is up and its sshd answers the bed's key."""
        bed = cls(name, hosts)
        bed.image = str(tb_image.ensure_image(log))
        with bed._lock():
            if bed.dir.exists():
                raise BedError(
                    "bed %s exists already (%s); take it down first: testbed.py down %s"
                    % (name, bed.dir, name)
                )
            leftovers = [n for n in tb_net.netns_names() if n.startswith(NETNS_PREFIX + name + "-")]
            if leftovers:
                raise BedError(
                    "netns %s of an earlier bed %s remain; run testbed.py down %s"
                    % (", ".join(leftovers), name, name)
                )
            bed.dir.mkdir(parents=True, mode=0o700)
            bed._save()  # before anything exists, so down() finds whatever follows
            try:
                started = time.monotonic()
                bed._create(boot_timeout)
                bed.boot_seconds = round(time.monotonic() - started, 1)
                bed._save()
            except BaseException:
                bed._down_locked()
                raise
        return bed

    @classmethod
    def attach(cls, name):
        """The handle of a bed that is up (created by this or another process)."""
        path = STATE_ROOT / name / "bed.json"
        try:
            saved = json.loads(path.read_text())
        except FileNotFoundError:
            raise BedError(
                "no bed %s (no %s); testbed.py up %s --hosts N creates one" % (name, path, name)
            ) from None
        except (OSError, ValueError) as e:
            raise BedError("cannot read %s: %s" % (path, e)) from None
        bed = cls(name, len(saved["hosts"]))
        bed.image = saved.get("image")
        bed.boot_seconds = saved.get("boot_seconds")
        return bed

    def down(self):
        """Powers every host off (SIGKILL after POWEROFF_TIMEOUT_S), then removes mounts,
        netns, cgroups and state. Safe to repeat, and on a half-created bed."""
        with self._lock():
            self._down_locked()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    # ---- what tests do ----------------------------------------------------------------

    def host(self, which):
        """A host by name (zk1), number (1) or address (10.77.0.11)."""
        for h in self.hosts:
            if str(which) in (h.name, h.ip, h.name[2:]):
                return h
        raise BedError(
            "bed %s has no host %r (hosts: %s)"
            % (self.name, which, ", ".join(h.name for h in self.hosts))
        )

    def ssh_options(self, connect_timeout=5):
        """ssh/scp options that reach the bed's hosts with its key and known_hosts only."""
        return [
            "-F", "/dev/null",
            "-i", str(self.ssh_key),
            "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=%s" % self.known_hosts,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=%d" % connect_timeout,
            # A host killed or cut mid-command ends the session instead of hanging it.
            "-o", "ServerAliveInterval=2",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def controller_argv(self, argv):
        """argv run inside the controller netns, the only place that reaches the hosts."""
        return ["ip", "netns", "exec", self.controller_netns, *argv]

    def ssh_argv(self, host, command=None, connect_timeout=5, tty=False):
        """The full command line of an ssh to host from the controller netns. command is a
        shell string or a list (quoted word by word); None opens a login shell."""
        h = self.host(host)
        remote = (
            []
            if command is None
            else [command if isinstance(command, str) else shlex.join(command)]
        )
        return self.controller_argv(
            [
                "ssh",
                *self.ssh_options(connect_timeout),
                *(["-t"] if tty else []),
                "root@" + h.ip,
                *remote,
            ]
        )

    def ssh(self, host, command, check=True, timeout=60, connect_timeout=5, input=None):
        """Runs command on host as root; CompletedProcess with text stdout and stderr.
        check raises BedError naming the host, command, exit code and stderr."""
        argv = self.ssh_argv(host, command, connect_timeout)
        try:
            done = subprocess.run(
                argv, input=input, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise BedError("ssh %s %r: no answer within %s s" % (host, command, timeout)) from None
        if check and done.returncode != 0:
            raise BedError(
                "ssh %s %r: exit %d: %s"
                % (host, command, done.returncode, (done.stderr or done.stdout).strip()[-2000:])
            )
        return done

    def run_in_controller(self, argv, check=True, timeout=120, **kwargs):
        """Runs argv in the controller netns (text output captured unless kwargs say
        otherwise); check raises BedError with its exit code and stderr."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        try:
            done = subprocess.run(self.controller_argv(list(argv)), timeout=timeout, **kwargs)
        except subprocess.TimeoutExpired:
            raise BedError(
                "controller %s: still running after %s s" % (shlex.join(argv), timeout)
            ) from None
        if check and done.returncode != 0:
            raise BedError(
                "controller %s: exit %d: %s"
                % (shlex.join(argv), done.returncode, str(done.stderr).strip())
            )
        return done

    def copy_in(self, host, src, dst):
        """Copies local file or directory src to path dst on host (scp -rp over the bed's
        network, so dst resolves inside the host, symlinks included)."""
        h = self.host(host)
        self._scp([str(src), "root@%s:%s" % (h.ip, dst)], "copy %s to %s:%s" % (src, h.name, dst))

    def copy_out(self, host, src, dst):
        """Copies path src on host to local path dst (a log, a data directory)."""
        h = self.host(host)
        self._scp(["root@%s:%s" % (h.ip, src), str(dst)], "copy %s:%s to %s" % (h.name, src, dst))

    def kill_host(self, host):
        """Power loss: SIGKILL the host's nspawn and everything in it, and its NIC goes
        dark (no answer at all, as from a machine that is off). Its disk stays."""
        h = self.host(host)
        self._kill(h)
        tb_net.ip("-n", h.netns, "link", "set", "eth0", "down")

    def start_host(self, host, boot_timeout=BOOT_TIMEOUT_S):
        """Boots a killed host again on the same disk; returns once it is ready."""
        h = self.host(host)
        if self._nspawn_alive(h):
            raise BedError("%s is running already" % h.name)
        self._kill(h)  # leftovers of the old boot, if any
        tb_net.ip("-n", h.netns, "link", "set", "eth0", "up")
        self._launch(h)
        self._wait_ready(h, time.monotonic() + boot_timeout)

    def cut(self, host):
        """Partition: the host's bridge port goes down; nothing reaches it or leaves it."""
        h = self.host(host)
        tb_net.set_port(self.switch_netns, h.name, up=False)

    def heal(self, host):
        h = self.host(host)
        tb_net.set_port(self.switch_netns, h.name, up=True)

    def status(self):
        """The description plus, per host, whether it runs and whether it is cut."""
        desc = self.describe()
        for h, d in zip(self.hosts, desc["hosts"]):
            d["running"] = self._nspawn_alive(h)
            d["cut"] = not tb_net.port_is_up(self.switch_netns, h.name)
        return desc

    def describe(self):
        """What a test or zkctl needs to reach the bed (the JSON `up` prints)."""
        return {
            "name": self.name,
            "state_dir": str(self.dir),
            "image": self.image,
            "boot_seconds": self.boot_seconds,
            "switch_netns": self.switch_netns,
            "controller": {"netns": self.controller_netns, "ip": self.controller_ip},
            "ssh_user": "root",
            "ssh_key": str(self.ssh_key),
            "known_hosts": str(self.known_hosts),
            "ssh_options": self.ssh_options(),
            "hosts": [h.describe() for h in self.hosts],
        }

    # ---- creation ---------------------------------------------------------------------

    def _create(self, boot_timeout):
        ensure_nspawn_run()
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "zkd-testbed-" + self.name,
                "-f",
                str(self.ssh_key),
            ]
        )
        tb_net.make_switch(self.switch_netns)
        tb_net.netns_add(self.controller_netns)
        tb_net.plug(self.switch_netns, "ctl", self.controller_netns, self.controller_ip)
        self._write_controller_etc()
        known = []
        for h in self.hosts:
            known.append(self._prepare_host(h))
            tb_net.netns_add(h.netns)
            tb_net.plug(self.switch_netns, h.name, h.netns, h.ip)
        self.known_hosts.write_text("".join(known))
        for h in self.hosts:
            self._launch(h)
        deadline = time.monotonic() + boot_timeout
        with concurrent.futures.ThreadPoolExecutor(len(self.hosts)) as pool:
            for f in [pool.submit(self._wait_ready, h, deadline) for h in self.hosts]:
                f.result()

    def _write_controller_etc(self):
        # ip netns exec bind-mounts /etc/netns/<netns>/* over /etc, so inside the controller
        # the hosts have names and no resolver is asked about anything.
        etc = Path("/etc/netns") / self.controller_netns
        etc.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1\tlocalhost", "%s\tcontroller" % self.controller_ip]
        lines += ["%s\t%s" % (h.ip, h.name) for h in self.hosts]
        (etc / "hosts").write_text("\n".join(lines) + "\n")
        (etc / "resolv.conf").write_text("")

    def _prepare_host(self, h):
        """Mounts the host's overlay and gives it its identity; returns its known_hosts line."""
        for d in (h.upper, h.work, h.root):
            d.mkdir(parents=True, exist_ok=True)
        layers = "lowerdir=%s,upperdir=%s,workdir=%s" % (self.image, h.upper, h.work)
        run(["mount", "-t", "overlay", "overlay", "-o", layers, str(h.root)])
        etc = h.root / "etc"
        (etc / "hostname").write_text(h.name + "\n")
        (etc / "machine-id").write_text(uuid.uuid4().hex + "\n")
        ssh_dir = h.root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        keys = ssh_dir / "authorized_keys"
        keys.write_text(Path(str(self.ssh_key) + ".pub").read_text())
        keys.chmod(0o600)
        host_key = etc / "ssh/ssh_host_ed25519_key"
        run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "root@" + h.name,
                "-f",
                str(host_key),
            ]
        )
        public = Path(str(host_key) + ".pub").read_text().split()
        return "%s,%s %s %s\n" % (h.name, h.ip, public[0], public[1])

    def _launch(self, h):
        argv = [
            "systemd-nspawn",
            "--directory=%s" % h.root,
            "--boot",
            # No systemd or D-Bus on this machine to register with or get a scope from.
            "--register=no",
            "--keep-unit",
            "--network-namespace-path=/run/netns/" + h.netns,
            "--machine=" + h.machine,
            "--hostname=" + h.name,
            "--console=read-only",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
        ]
        procs = tb_cgroup.create(h.cgroup)
        # The shell joins the host's cgroups and then becomes nspawn (see tb_cgroup).
        join = (
            'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || exit 125; shift; n=$((n-1));'
            ' done; exec "$@"'
        )
        env = dict(os.environ, TERM="dumb")  # the console log without colour codes
        with open(h.console_log, "ab") as console:
            child = subprocess.Popen(
                ["/bin/sh", "-c", join, "sh", str(len(procs)), *procs, *argv],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._children[h.name] = child
        h.pid_file.write_text("%d %d\n" % (child.pid, start_time(child.pid)))

    def _wait_ready(self, h, deadline):
        """Waits until h's sshd takes the bed's key and systemd finished booting."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BedError(
                    "%s not up within the boot timeout; console: %s\n%s"
                    % (h.name, h.console_log, self._console_tail(h))
                )
            if not self._nspawn_alive(h):
                raise BedError(
                    "%s: systemd-nspawn exited during boot; console: %s\n%s"
                    % (h.name, h.console_log, self._console_tail(h))
                )
            try:
                done = subprocess.run(
                    self.ssh_argv(h.name, "systemctl is-system-running --wait", connect_timeout=2),
                    capture_output=True, text=True, timeout=max(left, 1),
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                continue
            if done.returncode == 255:  # sshd not listening yet
                time.sleep(0.2)
                continue
            state = done.stdout.strip()
            if state in ("running", "degraded"):
                return
            failed = self.ssh(h.name, "systemctl --failed --no-legend", check=False).stdout
            raise BedError(
                "%s booted into state %r; failed units:\n%s"
                % (h.name, state or done.stderr.strip(), failed)
            )

    # ---- teardown ---------------------------------------------------------------------

    def _down_locked(self):
        problems = []
        signalled = [h for h in self.hosts if self._signal(h, signal.SIGTERM)]
        deadline = time.monotonic() + POWEROFF_TIMEOUT_S
        while any(self._nspawn_alive(h) for h in signalled) and time.monotonic() < deadline:
            time.sleep(0.1)
        for h in self.hosts:
            try:
                self._kill(h)
            except BedError as e:
                problems.append(str(e))
            problems += ["cannot remove cgroup " + d for d in tb_cgroup.remove(h.cgroup)]
        tb_cgroup.remove_if_empty(self.name)
        tb_cgroup.remove_if_empty("")  # the bed's parent group, once no other bed uses it
        for ns in [self.controller_netns] + [h.netns for h in self.hosts]:
            for pid in tb_net.netns_pids(ns):  # ssh clients, zkctl, ... left by a test
                kill_pid(pid)
        for h in self.hosts:
            if is_mounted(h.root):
                done = subprocess.run(["umount", str(h.root)], capture_output=True, text=True)
                if done.returncode != 0:
                    problems.append("umount %s: %s" % (h.root, done.stderr.strip()))
        for ns in [h.netns for h in self.hosts] + [self.controller_netns, self.switch_netns]:
            try:
                tb_net.netns_del(ns)
            except tb_net.NetError as e:
                problems.append(str(e))
        shutil.rmtree(Path("/etc/netns") / self.controller_netns, ignore_errors=True)
        if problems:
            raise BedError(
                "bed %s is not fully down (state kept in %s): %s"
                % (self.name, self.dir, "; ".join(problems))
            )
        shutil.rmtree(self.dir, ignore_errors=True)
        lock_path(self.name).unlink(missing_ok=True)  # we hold it: see file_lock

    def _signal(self, h, sig):
        """Sends sig to h's nspawn if it still runs; True if it did."""
        pid = self._nspawn_pid(h)
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _kill(self, h):
        self._signal(h, signal.SIGKILL)
        stuck = tb_cgroup.kill(h.cgroup)
        child = self._children.pop(h.name, None)
        if child is not None:
            child.wait()  # reap it: no zombie left in a long-lived test process
        if stuck:
            raise BedError("%s: processes %s survive SIGKILL" % (h.name, sorted(stuck)))

    # ---- bookkeeping ------------------------------------------------------------------

    def _nspawn_pid(self, h):
        """The pid of h's nspawn if that very process still runs (not a recycled pid)."""
        try:
            pid, started = (int(x) for x in h.pid_file.read_text().split())
        except (OSError, ValueError):
            return None
        return pid if start_time(pid) == started else None

    def _nspawn_alive(self, h):
        return self._nspawn_pid(h) is not None

    def _console_tail(self, h, lines=25):
        try:
            return "\n".join(h.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no console log)"

    def _scp(self, args, what):
        argv = self.controller_argv(["scp", *self.ssh_options(), "-r", "-p", *args])
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise BedError("%s: scp exit %d: %s" % (what, done.returncode, done.stderr.strip()))

    def _save(self):
        (self.dir / "bed.json").write_text(json.dumps(self.describe(), indent=2) + "\n")

    @contextmanager
    def _lock(self):
        """Serialises up and down of one bed name across processes."""
        STATE_ROOT.mkdir(parents=True, exist_ok=True)
        with file_lock(lock_path(self.name)):
            yield

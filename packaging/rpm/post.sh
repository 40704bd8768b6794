# zkd %post ($1: 1 = install, 2 or more = upgrade). An install enables
# zkd.service and starts it standalone; an upgrade restarts NOTHING: restarting
# the members of an ensemble one at a time, each back in sync before the next,
# is zkctl's job (zkctl restart --rolling), and a package manager restarting
# every host at once can take a quorum down.
# The user and group first: the tmpfiles lines (/etc/zkd, /var/lib/zkd) name them.
systemd-sysusers /usr/lib/sysusers.d/zkd.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/zkd.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl enable zkd.service >/dev/null 2>&1 || :
    if [ -d /run/systemd/system ]; then
        # A member of an ensemble waits for its peers before it is ready:
        # start only the default standalone server here.
        if grep -Eq '^[[:space:]]*server\.[0-9]+[[:space:]]*=' /etc/zkd/zoo.cfg 2>/dev/null; then
            echo "zkd: /etc/zkd/zoo.cfg describes an ensemble; zkd is enabled but not started here."
            echo "zkd: start the members with 'zkctl start INVENTORY' or 'systemctl start --no-block zkd'."
        else
            systemctl start zkd.service || :
        fi
    fi
else
    echo "zkd: upgraded. The running zkd, if any, was NOT restarted and still runs the old binary."
    echo "zkd: restart ensemble members one at a time with 'zkctl restart --rolling INVENTORY',"
    echo "zkd: a standalone server with 'systemctl restart zkd'."
fi
exit 0

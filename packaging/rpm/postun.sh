# zkd %postun ($1: 0 = erase, 1 = upgrade). rpm keeps an edited zoo.cfg as
# /etc/zkd/zoo.cfg.rpmsave; the zkd user and /var/lib/zkd stay: an ensemble's
# data is never deleted by a package manager.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ] && [ -d /var/lib/zkd ]; then
    echo "zkd: erased. /var/lib/zkd and the zkd user are kept: it holds the snapshots,"
    echo "zkd: transaction logs and myid of this server. Delete it yourself when it is no"
    echo "zkd: longer needed: rm -rf /var/lib/zkd"
fi
exit 0

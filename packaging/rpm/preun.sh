# zkd %preun ($1: 0 = erase, 1 = upgrade). Only an erase stops zkd (the service
# and every zkd@ instance) and disables it; an upgrade leaves it running.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable zkd.service >/dev/null 2>&1 || :
    if [ -d /run/systemd/system ]; then
        systemctl stop zkd.service 'zkd@*.service' >/dev/null 2>&1 || :
    fi
fi
exit 0

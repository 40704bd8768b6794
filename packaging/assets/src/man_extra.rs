//! The man page sections clap cannot know: where the packaged files live,
//! how the daemon answers signals, and where to read on. Plain roff.

/// Sections for a program's own page and for each of its subcommand pages.
#[derive(Clone, Copy)]
pub struct Pages {
    pub program: &'static str,
    pub subcommand: &'static str,
}

pub const ZKD: Pages = Pages {
    program: r#".SH FILES
.TP
.I /etc/zkd/zoo.cfg
The configuration of the packaged service, in Apache ZooKeeper's zoo.cfg format
(dataDir, clientPort, tickTime, server.N lines and the other keys ZooKeeper 3.8 reads).
.TP
.I /var/lib/zkd
The default dataDir: myid, the version\-2 snapshots and transaction logs, and the
epoch files of an ensemble member.
.TP
.I /usr/lib/systemd/system/zkd.service
The unit that runs zkd with /etc/zkd/zoo.cfg; zkd@NAME.service runs
/etc/zkd/NAME/zoo.cfg with its data in /var/lib/zkd/NAME.
.SH SIGNALS
.TP
.B SIGHUP
Re\-read zoo.cfg. The four\-letter\-word whitelist, maxClientCnxns and the log level
(zkd.logLevel) apply at once; other changes are logged as needing a restart.
.TP
.BR SIGTERM ", " SIGINT
Stop serving, flush the transaction log and exit 0.
.SH ENVIRONMENT
.TP
.B RUST_LOG
A log filter that overrides \-\-log\-level and zkd.logLevel.
.TP
.BR NOTIFY_SOCKET ", " WATCHDOG_USEC
Set by systemd: zkd reports READY=1 once it serves clients, its mode in STATUS=,
and watchdog pings from its request loop.
.SH EXIT STATUS
0 after a clean stop; 2 when zoo.cfg or myid is invalid (the message names the
file, line and key); 1 when the server cannot start, for example on a damaged
data directory or a port in use.
.SH SEE ALSO
.BR zkctl (1),
.BR systemctl (1),
.BR journalctl (1)
"#,
    subcommand: r#".SH SEE ALSO
.BR zkd (1)
"#,
};

pub const ZKCTL: Pages = Pages {
    program: r#".SH FILES
.TP
.I inventory.toml
The ensemble zkctl deploys: its settings, SSH access and one [[hosts]] table per
member. Commented examples are in /usr/share/doc/zkd/examples.
.SH EXIT STATUS
0 on success (for deploy and status: exactly one member leads and every other
voter follows it); 1 on a failure; 2 when the inventory or zoo.cfg is invalid,
with every error at file:line:column.
.SH SEE ALSO
.BR zkd (1),
.BR ssh (1)
"#,
    subcommand: r#".SH SEE ALSO
.BR zkctl (1),
.BR zkd (1)
"#,
};

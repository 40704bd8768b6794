//! Working on the inventory's hosts: what goes on them, the pre-flight
//! checks, deploy with its rolling restart, and start/stop.

pub mod apply;
pub mod check;
pub mod deploy;
pub mod files;
pub mod host;
pub mod package;
pub mod progress;

#[cfg(test)]
pub mod test_support {
    //! The inventory and binaries the remote tests share.
    use super::files::{Binaries, Source};
    use crate::inventory::Inventory;
    use std::path::Path;

    /// zk1..zk3 on 10.0.0.1..3, with `extra` appended (e.g. overrides of zk3).
    pub fn three_hosts(extra: &str) -> Inventory {
        let text = format!(
            "[ensemble]\nname = \"t\"\n\
             [[hosts]]\nname = \"zk1\"\naddress = \"10.0.0.1\"\nmyid = 1\n\
             [[hosts]]\nname = \"zk2\"\naddress = \"10.0.0.2\"\nmyid = 2\n\
             [[hosts]]\nname = \"zk3\"\naddress = \"10.0.0.3\"\nmyid = 3\n{extra}\n"
        );
        Inventory::parse(&text, Path::new("inv.toml")).expect("valid")
    }

    pub fn bins() -> Source {
        Source::Binaries(Binaries {
            zkd: "/build/zkd".into(),
            zkctl: "/build/zkctl".into(),
        })
    }
}

//! Working on the inventory's hosts: what goes on them, the pre-flight
//! checks, deploy with its rolling restart, and start/stop.

pub mod apply;
pub mod check;
pub mod deploy;
pub mod files;
pub mod host;
pub mod progress;

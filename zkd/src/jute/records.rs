//! The `org.apache.zookeeper.data` records: identities, ACLs and Stat.

use super::{JuteError, Reader, Record, Writer};

/// An authenticated identity: a scheme (`world`, `auth`, `digest`, `ip`,
/// `super`...) and a scheme-specific id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Self {
        Id {
            scheme: scheme.to_owned(),
            id: id.to_owned(),
        }
    }
}

impl Record for Id {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        // Java reads null strings as null; clients send a null id with the
        // `auth` scheme, which ignores it.
        Ok(Id {
            scheme: r.opt_string()?.unwrap_or_default(),
            id: r.opt_string()?.unwrap_or_default(),
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.string(&self.scheme);
        w.string(&self.id);
    }
}

/// Permission bits of an ACL entry.
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 1 << 1;
    pub const CREATE: i32 = 1 << 2;
    pub const DELETE: i32 = 1 << 3;
    pub const ADMIN: i32 = 1 << 4;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    /// `world:anyone` with every permission: ZooKeeper's OPEN_ACL_UNSAFE.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }

    /// `world:anyone` with read only: ZooKeeper's READ_ACL_UNSAFE.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }
}

impl Record for Acl {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(Acl {
            perms: r.i32()?,
            id: Id::decode(r)?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.i32(self.perms);
        self.id.encode(w);
    }
}

/// The Stat a client sees for a znode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl Record for Stat {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(Stat {
            czxid: r.i64()?,
            mzxid: r.i64()?,
            ctime: r.i64()?,
            mtime: r.i64()?,
            version: r.i32()?,
            cversion: r.i32()?,
            aversion: r.i32()?,
            ephemeral_owner: r.i64()?,
            data_length: r.i32()?,
            num_children: r.i32()?,
            pzxid: r.i64()?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.i64(self.czxid);
        w.i64(self.mzxid);
        w.i64(self.ctime);
        w.i64(self.mtime);
        w.i32(self.version);
        w.i32(self.cversion);
        w.i32(self.aversion);
        w.i64(self.ephemeral_owner);
        w.i32(self.data_length);
        w.i32(self.num_children);
        w.i64(self.pzxid);
    }
}

/// The Stat as snapshots store it: without the derived dataLength and
/// numChildren.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

impl Record for StatPersisted {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(StatPersisted {
            czxid: r.i64()?,
            mzxid: r.i64()?,
            ctime: r.i64()?,
            mtime: r.i64()?,
            version: r.i32()?,
            cversion: r.i32()?,
            aversion: r.i32()?,
            ephemeral_owner: r.i64()?,
            pzxid: r.i64()?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.i64(self.czxid);
        w.i64(self.mzxid);
        w.i64(self.ctime);
        w.i64(self.mtime);
        w.i32(self.version);
        w.i32(self.cversion);
        w.i32(self.aversion);
        w.i64(self.ephemeral_owner);
        w.i64(self.pzxid);
    }
}

/// `whoAmI`'s answer: one entry per identity of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub auth_scheme: String,
    /// `None` for identities without a user name (`super`).
    pub user: Option<String>,
}

impl Record for ClientInfo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(ClientInfo {
            auth_scheme: r.string()?,
            user: r.opt_string()?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.string(&self.auth_scheme);
        w.opt_buffer(self.user.as_deref().map(str::as_bytes));
    }
}

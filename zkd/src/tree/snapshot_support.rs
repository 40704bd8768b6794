//! What loading a snapshot needs from the tree beyond its public API.

use super::acl::AclCache;
use super::{DataTree, TreeOptions};

impl DataTree {
    /// A tree with no nodes and no ACL lists at all, for a snapshot loader
    /// to fill with [`DataTree::insert_raw`] in the snapshot's order
    /// (parents before children) and [`AclCache::restore`].
    pub fn empty_for_load(options: TreeOptions) -> DataTree {
        let mut tree = DataTree::new(options);
        // Start from `new` so every field gets its initial value; then drop
        // the system nodes and whatever was derived from them.
        tree.nodes.clear();
        tree.ephemerals.clear();
        tree.containers.clear();
        tree.ttls.clear();
        tree.data_bytes = 0;
        tree.acls = AclCache::default();
        tree.last_zxid = 0;
        tree
    }

    /// Room for `nodes` more nodes, so loading a big snapshot does not
    /// rehash every path each time the table doubles.
    pub fn reserve_nodes(&mut self, nodes: usize) {
        self.nodes.reserve(nodes);
    }
}

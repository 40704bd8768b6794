//! The iteration order of a `java.util.concurrent.ConcurrentHashMap<String, _>`
//! that was only ever inserted into, single-threaded, from its default size.
//!
//! 3.8's `mntr` walks its metric registries, which are such maps, so its line
//! order is this order: bins by index, nodes within a bin in list order, with
//! the table doubling at 3/4 load and nodes split between the two halves the
//! way `ConcurrentHashMap.transfer` does it (the run of nodes that end up in
//! the same half keeps its order; the nodes before it are prepended, so they
//! reverse). Reproducing it keeps the `zk_*` keys in the places where 3.8's
//! users have always seen them. Checked against captures of a live 3.8
//! server's `mntr` in three roles (see the tests in `words::mntr`).

const DEFAULT_CAPACITY: usize = 16;
const TREEIFY_THRESHOLD: usize = 8;
const UNTREEIFY_THRESHOLD: usize = 6;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// `String.hashCode`: over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `ConcurrentHashMap.spread`.
fn spread(h: i32) -> u32 {
    ((h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff) as u32
}

#[derive(Clone, Default)]
struct Bin {
    /// (spread hash, index of the key in insertion order), in list order.
    nodes: Vec<(u32, usize)>,
    /// A `TreeBin`: iteration follows its `first` list, and new nodes go to
    /// the front of that list.
    tree: bool,
}

struct Table {
    bins: Vec<Bin>,
    count: usize,
    size_ctl: usize,
}

impl Table {
    fn new() -> Table {
        Table {
            bins: vec![Bin::default(); DEFAULT_CAPACITY],
            count: 0,
            size_ctl: DEFAULT_CAPACITY - DEFAULT_CAPACITY / 4,
        }
    }

    /// `putVal`/`computeIfAbsent` of a new key.
    fn insert(&mut self, hash: u32, key: usize) {
        let n = self.bins.len();
        let index = hash as usize & (n - 1);
        let bin = &mut self.bins[index];
        // binCount: the list length before the new node (2 for a tree bin).
        let bin_count = if bin.tree {
            bin.nodes.insert(0, (hash, key));
            2
        } else {
            bin.nodes.push((hash, key));
            bin.nodes.len() - 1
        };
        if bin_count >= TREEIFY_THRESHOLD {
            self.treeify(index);
        }
        self.count += 1;
        while self.count >= self.size_ctl {
            self.transfer();
        }
    }

    /// `treeifyBin`: a long bin in a small table grows the table instead.
    fn treeify(&mut self, index: usize) {
        let n = self.bins.len();
        if n < MIN_TREEIFY_CAPACITY {
            // tryPresize(n << 1): grow until 3/4 of the table reaches
            // tableSizeFor(size + size/2 + 1).
            let size = n << 1;
            let target = (size + (size >> 1) + 1).next_power_of_two();
            while target > self.size_ctl {
                self.transfer();
            }
        } else if !self.bins[index].nodes.is_empty() {
            self.bins[index].tree = true;
        }
    }

    /// `transfer`: doubles the table.
    fn transfer(&mut self) {
        let n = self.bins.len();
        let mut next = vec![Bin::default(); n * 2];
        for (i, bin) in self.bins.iter().enumerate() {
            let (low, high) = if bin.tree {
                split_tree(bin, n)
            } else {
                split_list(&bin.nodes, n)
            };
            next[i] = low;
            next[i + n] = high;
        }
        self.bins = next;
        self.size_ctl = (n << 1) - (n >> 1);
    }

    fn order(&self) -> Vec<usize> {
        self.bins
            .iter()
            .flat_map(|b| b.nodes.iter().map(|&(_, k)| k))
            .collect()
    }
}

/// The list split: the tail run that lands in one half keeps its order and
/// goes first; the nodes before it are pushed onto the front of their half.
fn split_list(nodes: &[(u32, usize)], n: usize) -> (Bin, Bin) {
    let high_bit = |h: u32| h as usize & n != 0;
    let Some(&(first_hash, _)) = nodes.first() else {
        return (Bin::default(), Bin::default());
    };
    let mut run_high = high_bit(first_hash);
    let mut last_run = 0;
    for (i, &(h, _)) in nodes.iter().enumerate().skip(1) {
        if high_bit(h) != run_high {
            run_high = high_bit(h);
            last_run = i;
        }
    }
    let mut low: Vec<(u32, usize)> = Vec::new();
    let mut high: Vec<(u32, usize)> = Vec::new();
    if run_high {
        high.extend_from_slice(&nodes[last_run..]);
    } else {
        low.extend_from_slice(&nodes[last_run..]);
    }
    for &node in &nodes[..last_run] {
        if high_bit(node.0) {
            high.insert(0, node);
        } else {
            low.insert(0, node);
        }
    }
    let bin = |nodes| Bin { nodes, tree: false };
    (bin(low), bin(high))
}

/// The tree split keeps `first` order; small halves become lists again.
fn split_tree(bin: &Bin, n: usize) -> (Bin, Bin) {
    let (high, low): (Vec<_>, Vec<_>) = bin.nodes.iter().partition(|(h, _)| *h as usize & n != 0);
    let bin = |nodes: Vec<(u32, usize)>| Bin {
        tree: nodes.len() > UNTREEIFY_THRESHOLD,
        nodes,
    };
    (bin(low), bin(high))
}

/// The order in which a fresh `ConcurrentHashMap` iterates `keys`, given in
/// the order they were first inserted: returns indexes into `keys`.
/// Repeated keys count once, at their first insertion.
pub fn iteration_order<S: AsRef<str>>(keys: &[S]) -> Vec<usize> {
    let mut table = Table::new();
    let mut seen = std::collections::HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        if seen.insert(key.as_ref()) {
            table.insert(spread(java_string_hash(key.as_ref())), i);
        }
    }
    table.order()
}

/// `keys` reordered as a fresh `ConcurrentHashMap` would iterate them.
pub fn ordered<T: Clone, S: AsRef<str>>(entries: &[(S, T)]) -> Vec<(String, T)> {
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
    iteration_order(&keys)
        .into_iter()
        .map(|i| (entries[i].0.as_ref().to_string(), entries[i].1.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(keys: &[&str]) -> Vec<String> {
        iteration_order(keys)
            .into_iter()
            .map(|i| keys[i].to_string())
            .collect()
    }

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn small_maps_iterate_by_bin() {
        // Orders seen in a 3.8 mntr capture (read_per_namespace keys, and the
        // three basic summary sets).
        assert_eq!(names(&["bar", "foo", "e2"]), ["bar", "foo", "e2"]);
        assert_eq!(
            names(&[
                "write_per_namespace",
                "read_per_namespace",
                "learner_handler_qp_size"
            ]),
            [
                "learner_handler_qp_size",
                "read_per_namespace",
                "write_per_namespace"
            ]
        );
    }

    #[test]
    fn every_key_comes_out_once_across_resizes() {
        let keys: Vec<String> = (0..500).map(|i| format!("k{i}")).collect();
        let mut order = iteration_order(&keys);
        assert_eq!(order.len(), 500);
        order.sort_unstable();
        assert_eq!(order, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn colliding_keys_survive_treeification() {
        // "Aa" and "BB" share a hash, so these 2^4 strings all land in one bin.
        let mut keys = vec![String::new()];
        for _ in 0..4 {
            keys = keys
                .iter()
                .flat_map(|k| [format!("{k}Aa"), format!("{k}BB")])
                .collect();
        }
        assert!(keys
            .iter()
            .all(|k| java_string_hash(k) == java_string_hash(&keys[0])));
        let mut order = iteration_order(&keys);
        order.sort_unstable();
        assert_eq!(order, (0..keys.len()).collect::<Vec<_>>());
    }

    #[test]
    fn repeated_keys_count_once() {
        assert_eq!(iteration_order(&["a", "b", "a"]).len(), 2);
    }
}

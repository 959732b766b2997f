//! The Merkle index: what anti-entropy compares between replicas without reading the data.
//!
//! Every item and every block has an *entry* in `DIGESTS`, ordered by the hash that places it
//! on the ring (so a partition, or any narrower slice of the hash space, is one range), with the
//! digest of its content. Above the entries sit the tree's nodes: for each prefix length of
//! [`LEVELS`], the XOR of the entry digests under a prefix and their count. XOR makes every
//! node an order-free set hash that a write updates in place (take the old entry out, put the
//! new one in), in the same transaction as the data, so the tree is never rebuilt and never
//! disagrees with what the store holds. A node of any prefix length is the XOR of the nodes
//! of the next stored level below it; a partition of the ring (4 to 16 bits) is one such prefix.
//!
//! Two replicas that hold the same set of entries under a prefix have the same digest there;
//! a difference is found by comparing the partition's node, then the children of the nodes that
//! differ, down to the entries of the leaves (20 bits: about one entry per leaf with a million
//! items), or earlier once few entries are left.

use redb::{ReadableTable, Table};

use super::{BlockId, StoreError, redb_err, tables};

/// Prefix lengths (bits of the placement hash) at which tree nodes are stored; the last one is
/// the leaves'. Partitions have 4 to 16 bits.
pub const LEVELS: [u8; 3] = [10, 15, 20];
/// The leaves' prefix length.
pub const LEAF_BITS: u8 = 20;

const HASH_SEED: u64 = 0x5249_4e47_5641_554c; // "RINGVAUL"

/// The table id under which blocks are placed on the ring (items use their own table ids).
pub const BLOCK_PLACEMENT_TABLE: u8 = 0xff;

/// The stable hash that places an item on the ring: xxh3 with a fixed seed (never std's
/// randomly seeded hasher) over the table id and the key.
pub fn item_hash(table: u8, key: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(HASH_SEED);
    h.update(&[table]);
    h.update(key);
    h.digest()
}

/// The hash that places a block: its id as an item key of the block placement table.
pub fn block_hash(id: BlockId) -> u64 {
    item_hash(BLOCK_PLACEMENT_TABLE, &id.to_key())
}

/// Which tree: items (their sibling sets) or blocks (their presence and checksum).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum TreeKind {
    Items,
    Blocks,
}

impl TreeKind {
    fn tag(self) -> u8 {
        match self {
            TreeKind::Items => 0,
            TreeKind::Blocks => 1,
        }
    }
}

/// One tree node: the XOR of its entries' digests and how many there are.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeDigest {
    pub digest: u128,
    pub count: u64,
}

impl NodeDigest {
    fn add(&mut self, other: NodeDigest) {
        self.digest ^= other.digest;
        self.count = self.count.wrapping_add(other.count);
    }

    fn encode(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..16].copy_from_slice(&self.digest.to_le_bytes());
        out[16..].copy_from_slice(&self.count.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Self {
        let digest = bytes.get(..16).and_then(|b| b.try_into().ok()).map_or(0, u128::from_le_bytes);
        let count = bytes.get(16..24).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
        NodeDigest { digest, count }
    }
}

/// One entry as anti-entropy sees it: the placement hash, what it names (`[table][key]` of an
/// item, the 20-byte key of a block) and its content digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub hash: u64,
    pub name: Vec<u8>,
    pub content: u128,
}

/// The content digest of an item: a hash of its stored encoding.
pub fn item_content(stored: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(stored)
}

/// The content digest of a block: its checksum and length (blocks are immutable under an id).
pub fn block_content(stored: &[u8]) -> u128 {
    let crc = stored.get(..4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes);
    (u128::from(crc) << 64) | stored.len() as u128
}

fn entry_key(kind: TreeKind, hash: u64, name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + name.len());
    k.push(kind.tag());
    k.extend_from_slice(&hash.to_be_bytes());
    k.extend_from_slice(name);
    k
}

fn entry_digest(kind: TreeKind, name: &[u8], content: u128) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(HASH_SEED);
    h.update(&[kind.tag()]);
    h.update(name);
    h.update(&content.to_le_bytes());
    h.digest128()
}

fn node_key(kind: TreeKind, bits: u8, prefix: u32) -> [u8; 6] {
    let mut k = [0u8; 6];
    k[0] = kind.tag();
    k[1] = bits;
    k[2..].copy_from_slice(&prefix.to_be_bytes());
    k
}

/// The first `bits` bits of `hash`.
pub fn prefix_of(hash: u64, bits: u8) -> u32 {
    if bits == 0 {
        return 0;
    }
    u32::try_from(hash >> (64 - u32::from(bits))).unwrap_or(u32::MAX)
}

/// The hashes under a prefix, as an inclusive range.
fn hash_range(bits: u8, prefix: u32) -> (u64, u64) {
    if bits == 0 {
        return (0, u64::MAX);
    }
    let shift = 64 - u32::from(bits);
    let low = u64::from(prefix) << shift;
    (low, low | (u64::MAX >> u32::from(bits)))
}

/// A tree node's non-empty children: their level (prefix bits) and `(prefix, node)` each.
pub type Children = (u8, Vec<(u32, NodeDigest)>);

/// The stored level at which the children of a `bits`-long prefix are kept.
pub fn child_level(bits: u8) -> Option<u8> {
    LEVELS.into_iter().find(|l| *l > bits)
}

/// The Merkle tables of one write transaction.
pub struct MerkleTables<'t> {
    entries: Table<'t, &'static [u8], &'static [u8]>,
    nodes: Table<'t, &'static [u8], &'static [u8]>,
}

impl<'t> MerkleTables<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            entries: txn.open_table(tables::DIGESTS).map_err(redb_err)?,
            nodes: txn.open_table(tables::TREE).map_err(redb_err)?,
        })
    }

    /// Records that the entry `name` at `hash` changed from `old` to `new` content (`None`:
    /// absent). A no-op when both are equal.
    pub fn update(
        &mut self,
        kind: TreeKind,
        hash: u64,
        name: &[u8],
        old: Option<u128>,
        new: Option<u128>,
    ) -> Result<(), StoreError> {
        if old == new {
            return Ok(());
        }
        let key = entry_key(kind, hash, name);
        let mut delta = NodeDigest::default();
        if let Some(old) = old {
            delta.digest ^= entry_digest(kind, name, old);
            delta.count = delta.count.wrapping_sub(1);
        }
        match new {
            Some(new) => {
                delta.digest ^= entry_digest(kind, name, new);
                delta.count = delta.count.wrapping_add(1);
                self.entries.insert(key.as_slice(), new.to_le_bytes().as_slice()).map(drop)
            }
            None => self.entries.remove(key.as_slice()).map(drop),
        }
        .map_err(redb_err)?;
        for level in LEVELS {
            let k = node_key(kind, level, prefix_of(hash, level));
            let mut node = self
                .nodes
                .get(k.as_slice())
                .map_err(redb_err)?
                .map_or_else(NodeDigest::default, |v| NodeDigest::decode(v.value()));
            node.add(delta);
            if node.count == 0 {
                self.nodes.remove(k.as_slice()).map_err(redb_err)?;
            } else {
                self.nodes.insert(k.as_slice(), node.encode().as_slice()).map_err(redb_err)?;
            }
        }
        Ok(())
    }

    /// An item's content digest changed from `old` to `new` (see [`item_content`]).
    pub fn item(
        &mut self,
        full_key: &[u8],
        old: Option<u128>,
        new: Option<u128>,
    ) -> Result<(), StoreError> {
        let Some((&table, key)) = full_key.split_first() else { return Ok(()) };
        self.update(TreeKind::Items, item_hash(table, key), full_key, old, new)
    }

    /// A block's content digest changed from `old` to `new` (see [`block_content`]).
    pub fn block(
        &mut self,
        id: BlockId,
        old: Option<u128>,
        new: Option<u128>,
    ) -> Result<(), StoreError> {
        self.update(TreeKind::Blocks, block_hash(id), &id.to_key(), old, new)
    }
}

/// Builds the index of a store written before it existed: every item and block, once.
pub fn rebuild(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
    let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
    let mut merkle = MerkleTables::open(txn)?;
    merkle.entries.retain(|_, _| false).map_err(redb_err)?;
    merkle.nodes.retain(|_, _| false).map_err(redb_err)?;
    for entry in items.iter().map_err(redb_err)? {
        let (k, v) = entry.map_err(redb_err)?;
        merkle.item(k.value(), None, Some(item_content(v.value())))?;
    }
    for entry in blocks.iter().map_err(redb_err)? {
        let (k, v) = entry.map_err(redb_err)?;
        if let Some(id) = BlockId::from_key(k.value()) {
            merkle.block(id, None, Some(block_content(v.value())))?;
        }
    }
    Ok(())
}

/// The node of each `(bits, prefix)`: read where stored, else folded from the stored level
/// below (a partition of 4 to 16 bits folds at most 64 nodes).
pub fn nodes(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    kind: TreeKind,
    wanted: &[(u8, u32)],
) -> Result<Vec<NodeDigest>, StoreError> {
    wanted
        .iter()
        .map(|&(bits, prefix)| {
            let mut node = NodeDigest::default();
            let Some(level) = LEVELS.into_iter().find(|l| *l >= bits) else {
                return Ok(node);
            };
            for (_, child) in children_at(table, kind, bits, prefix, level)? {
                node.add(child);
            }
            Ok(node)
        })
        .collect()
}

/// The non-empty nodes at stored level `level` under `(bits, prefix)`, in order.
pub fn children_at(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    kind: TreeKind,
    bits: u8,
    prefix: u32,
    level: u8,
) -> Result<Vec<(u32, NodeDigest)>, StoreError> {
    let (low, high) = hash_range(bits, prefix);
    let start = node_key(kind, level, prefix_of(low, level));
    let end = node_key(kind, level, prefix_of(high, level));
    let mut out = Vec::new();
    for entry in table.range::<&[u8]>(start.as_slice()..=end.as_slice()).map_err(redb_err)? {
        let (k, v) = entry.map_err(redb_err)?;
        let p = k.value().get(2..6).and_then(|b| b.try_into().ok()).map_or(0, u32::from_be_bytes);
        out.push((p, NodeDigest::decode(v.value())));
    }
    Ok(out)
}

/// Up to `limit` entries under `(bits, prefix)` after `after` (an entry's `(hash, name)`), in
/// order, and whether more follow.
pub fn entries(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    kind: TreeKind,
    bits: u8,
    prefix: u32,
    after: Option<(u64, Vec<u8>)>,
    limit: usize,
) -> Result<(Vec<Entry>, bool), StoreError> {
    let (low, high) = hash_range(bits, prefix);
    let start = match &after {
        Some((hash, name)) => entry_key(kind, *hash, name),
        None => entry_key(kind, low, &[]),
    };
    let end = match high.checked_add(1) {
        Some(next) => entry_key(kind, next, &[]),
        None => vec![kind.tag() + 1],
    };
    let mut out = Vec::new();
    for entry in table.range::<&[u8]>(start.as_slice()..end.as_slice()).map_err(redb_err)? {
        let (k, v) = entry.map_err(redb_err)?;
        let key = k.value();
        if after.is_some() && key == start.as_slice() {
            continue;
        }
        let hash = key.get(1..9).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes);
        if out.len() >= limit {
            return Ok((out, true));
        }
        let content = v.value().try_into().map_or(0, u128::from_le_bytes);
        out.push(Entry { hash, name: key[9..].to_vec(), content });
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_ranges_agree() {
        let h = 0xabcd_ef01_2345_6789u64;
        assert_eq!(prefix_of(h, 4), 0xa);
        assert_eq!(prefix_of(h, 20), 0xabcde);
        let (low, high) = hash_range(20, 0xabcde);
        assert!(low <= h && h <= high);
        assert_eq!(prefix_of(low, 20), 0xabcde);
        assert_eq!(prefix_of(high, 20), 0xabcde);
        assert_eq!(hash_range(0, 0), (0, u64::MAX));
        assert_eq!(child_level(8), Some(10));
        assert_eq!(child_level(10), Some(15));
        assert_eq!(child_level(20), None);
    }
}

//! Every redb table of a node, in one place, with its key and value layout.

use redb::TableDefinition;

/// Replicated items. Key: `[table id u8][item key bytes]`. Value: `codec::encode_siblings`.
/// One ordered index over all partitions, so a listing is one range scan; a coverage query
/// filters it by partition.
pub const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");

/// Immutable body blocks. Key: `[data id 16 bytes][block index u32 BE]`.
/// Value: `[crc32c of data, u32 LE][data]`.
pub const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");

/// Node-local settings (format version, node id).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Node-local journal of work in progress (e.g. bodies being written), for crash recovery.
/// Not replicated: each node recovers its own entries. Key and value belong to the caller.
pub const JOURNAL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("journal");

/// Hinted handoff: work owed to another node. Key: `[owner u64 BE][seq u64 BE]`.
/// Value: postcard `HintOp`.
pub const HINTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("hints");

/// Hints held per owner, kept with every hint added or removed, so that counting them never
/// scans `HINTS`. Key: owner. Value: count.
pub const HINT_COUNTS: TableDefinition<u64, u64> = TableDefinition::new("hint_counts");

/// What hints refer to, so that dropping unowned data checks one key, not every hint. Key:
/// `[0][table u8][item key]` or `[1][block key]`. Value: hints referring to it.
pub const HINT_REFS: TableDefinition<&[u8], u64> = TableDefinition::new("hint_refs");

/// The Merkle index's entries: one per item and per block, ordered by placement hash. Key:
/// `[tree u8 (0 items, 1 blocks)][hash u64 BE][name]` (name: `[table][key]`, or a block key).
/// Value: content digest, u128 LE. See `merkle`.
pub const DIGESTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("merkle_entries");

/// The Merkle tree's nodes at the stored levels. Key: `[tree u8][prefix bits u8][prefix u32
/// BE]`. Value: `[XOR of entry digests u128 LE][count u64 LE]`; empty nodes are absent.
pub const TREE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("merkle_nodes");

/// Items that are only tombstones, by age. Key: `[newest timestamp u64 BE][table u8][key]`.
/// See `tombstones`.
pub const TOMBSTONES: TableDefinition<&[u8], ()> = TableDefinition::new("tombstones");

/// Per-key consensus: each key's acceptor state (`consensus::Acceptor`). Key: `[table u8]
/// [item key]`. Value: `[format version][postcard]`. See `paxos`.
pub const PAXOS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("paxos");

//! Applying writes: one redb transaction per batch of the group-commit writer, with the
//! hint and Merkle indexes kept in step with the data they describe.

use redb::{Database, Durability, ReadableTable};

use super::{
    BlockId, StoreError, TableId, WriteOp, WriteOutcome, codec, hints, item_key, merkle, mint,
    paxos, redb_err, tables, tombstones,
};
use crate::causality::Siblings;
use hints::HintOp;

/// Applies all ops in one transaction. Per-op failures (a corrupt value) fail only that op;
/// a transaction failure fails them all.
pub(super) fn apply_batch(
    db: &Database,
    ops: Vec<WriteOp>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let mut txn = db.begin_write().map_err(redb_err)?;
    txn.set_durability(Durability::Immediate).map_err(redb_err)?;
    let mut outcomes = Vec::with_capacity(ops.len());
    {
        let mut items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let mut blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        let mut journal = txn.open_table(tables::JOURNAL).map_err(redb_err)?;
        let mut paxos_table = txn.open_table(tables::PAXOS).map_err(redb_err)?;
        let mut meta = txn.open_table(tables::META).map_err(redb_err)?;
        let fence_before = meta_u64(&meta, paxos::FENCE_META)?;
        let mut fence = fence_before;
        let mut hint_tables = hints::HintTables::open(&txn)?;
        let mut indexes = Indexes {
            merkle: merkle::MerkleTables::open(&txn)?,
            tombstones: tombstones::TombstoneIndex::open(&txn)?,
        };
        for op in ops {
            let outcome = match op {
                WriteOp::RaiseMintCeiling { ceiling } => {
                    raise_mint_ceiling(&mut meta, ceiling).map(|()| WriteOutcome::Done)
                }
                WriteOp::Paxos { table, key, request, layout } => consensus_step(
                    &mut items,
                    &mut indexes,
                    &mut paxos_table,
                    (table, &key),
                    request,
                    (layout, fence),
                ),
                WriteOp::PaxosFence { layout } => {
                    fence = fence.max(layout);
                    Ok(WriteOutcome::Done)
                }
                WriteOp::PaxosAbsorb { rows } => rows
                    .iter()
                    .try_for_each(|(table, key, row)| {
                        paxos::absorb(&mut paxos_table, &item_key(*table, key), row)
                    })
                    .map(|()| WriteOutcome::Done),
                WriteOp::Merge { table, key, siblings, hint_for } => {
                    let outcome = merge(&mut items, &mut indexes, table, &key, &siblings);
                    match hint_for {
                        Some(owner) if outcome.is_ok() => hint_tables
                            .add(owner, &HintOp::Item { table: table.0, key })
                            .and(outcome),
                        _ => outcome,
                    }
                }
                WriteOp::PutBlock { id, data, hint_for } => {
                    let outcome = put_block(&mut blocks, &mut indexes.merkle, id, &data);
                    match hint_for {
                        Some(owner) if outcome.is_ok() => {
                            hint_tables.add(owner, &HintOp::Block { id }).and(outcome)
                        }
                        _ => outcome,
                    }
                }
                WriteOp::AddHint { owner, op } => {
                    hint_tables.add(owner, &op).map(|()| WriteOutcome::Done)
                }
                WriteOp::DeleteHint { owner, seq } => {
                    hint_tables.remove(owner, seq).map(|()| WriteOutcome::Done)
                }
                // One index lookup per dropped key: never a scan of the hints in the writer.
                WriteOp::DropUnhinted { items: drop_items, blocks: drop_blocks } => (|| {
                    for (table, key) in drop_items {
                        if !hint_tables.refers_to(&hints::item_ref(table.0, &key))? {
                            remove_item(&mut items, &mut indexes, &item_key(table, &key))?;
                        }
                    }
                    for id in drop_blocks {
                        if !hint_tables.refers_to(&hints::block_ref(id))? {
                            remove_block(&mut blocks, &mut indexes.merkle, id)?;
                        }
                    }
                    Ok(WriteOutcome::Done)
                })(
                ),
                WriteOp::Purge { items: purged } => (|| {
                    for (table, key, tombstone) in purged {
                        let full = item_key(table, &key);
                        let (held, _) = load(&items, &full)?;
                        let gone = if held.is_empty() {
                            true
                        } else if tombstone.covers(&held)
                            && !hint_tables.refers_to(&hints::item_ref(table.0, &key))?
                        {
                            remove_item(&mut items, &mut indexes, &full)?;
                            true
                        } else {
                            false
                        };
                        if gone {
                            // A decision the consensus row still names would come back with
                            // the next conditional read once the tombstone is gone.
                            paxos::forget_covered(&mut paxos_table, &full, &tombstone)?;
                        }
                    }
                    Ok(WriteOutcome::Done)
                })(),
                WriteOp::DeleteBlocks { ids } => ids
                    .into_iter()
                    .try_for_each(|id| remove_block(&mut blocks, &mut indexes.merkle, id))
                    .map(|()| WriteOutcome::Done),
                WriteOp::DeleteBody { data_id } => (|| {
                    let mut end = [0xffu8; 20];
                    end[..16].copy_from_slice(&data_id);
                    let mut start = [0u8; 20];
                    start[..16].copy_from_slice(&data_id);
                    let mut ids = Vec::new();
                    for entry in blocks
                        .range::<&[u8]>(start.as_slice()..=end.as_slice())
                        .map_err(redb_err)?
                    {
                        ids.extend(BlockId::from_key(entry.map_err(redb_err)?.0.value()));
                    }
                    for id in ids {
                        remove_block(&mut blocks, &mut indexes.merkle, id)?;
                    }
                    Ok(WriteOutcome::Done)
                })(),
                WriteOp::Forget { limit } => (|| {
                    let mut count = hint_tables.remove_some(limit)?;
                    for full in first_keys(&items, limit)? {
                        remove_item(&mut items, &mut indexes, &full)?;
                        count += 1;
                    }
                    for key in first_keys(&blocks, limit)? {
                        if let Some(id) = BlockId::from_key(&key) {
                            remove_block(&mut blocks, &mut indexes.merkle, id)?;
                            count += 1;
                        }
                    }
                    for key in first_keys(&paxos_table, limit)? {
                        paxos_table.remove(key.as_slice()).map_err(redb_err)?;
                        count += 1;
                    }
                    Ok(WriteOutcome::Forgot(count))
                })(),
                WriteOp::PutJournal { key, value } => journal
                    .insert(key.as_slice(), value.as_slice())
                    .map(|_| WriteOutcome::Done)
                    .map_err(redb_err),
                WriteOp::DeleteJournal { key } => {
                    journal.remove(key.as_slice()).map(|_| WriteOutcome::Done).map_err(redb_err)
                }
            };
            outcomes.push(outcome);
        }
        if fence != fence_before {
            meta.insert(paxos::FENCE_META, fence.to_be_bytes().as_slice()).map_err(redb_err)?;
        }
    }
    txn.commit().map_err(redb_err)?;
    Ok(outcomes)
}

type ItemsTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

type BlocksTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// What is kept in step with the items: the Merkle index and the tombstone index.
struct Indexes<'t> {
    merkle: merkle::MerkleTables<'t>,
    tombstones: tombstones::TombstoneIndex<'t>,
}

/// The first `limit` keys of a table.
fn first_keys(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    limit: usize,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut keys = Vec::new();
    for entry in table.iter().map_err(redb_err)?.take(limit) {
        keys.push(entry.map_err(redb_err)?.0.value().to_vec());
    }
    Ok(keys)
}

/// An item's siblings and the content digest of its stored value (`None`: absent).
fn load(items: &ItemsTable<'_>, full: &[u8]) -> Result<(Siblings, Option<u128>), StoreError> {
    match items.get(full).map_err(redb_err)? {
        Some(v) => Ok((codec::decode_siblings(v.value())?, Some(merkle::item_content(v.value())))),
        None => Ok((Siblings::new(), None)),
    }
}

/// An item as stored before a write: its content digest and tombstone time.
#[derive(Clone, Copy)]
struct Before {
    digest: Option<u128>,
    tombstone: Option<i64>,
}

impl Before {
    fn of(digest: Option<u128>, siblings: &Siblings) -> Self {
        Before { digest, tombstone: tombstones::tombstone_time(siblings) }
    }
}

/// Stores an item's new siblings and keeps the indexes in step.
fn store_item(
    items: &mut ItemsTable<'_>,
    indexes: &mut Indexes<'_>,
    full: &[u8],
    before: Before,
    siblings: &Siblings,
) -> Result<(), StoreError> {
    let encoded = codec::encode_siblings(siblings)?;
    items.insert(full, encoded.as_slice()).map_err(redb_err)?;
    indexes.merkle.item(full, before.digest, Some(merkle::item_content(&encoded)))?;
    indexes.tombstones.update(full, before.tombstone, tombstones::tombstone_time(siblings))
}

fn remove_item(
    items: &mut ItemsTable<'_>,
    indexes: &mut Indexes<'_>,
    full: &[u8],
) -> Result<(), StoreError> {
    let Some(old) = items.remove(full).map_err(redb_err)? else { return Ok(()) };
    let before = Before::of(
        Some(merkle::item_content(old.value())),
        &codec::decode_siblings(old.value()).unwrap_or_default(),
    );
    drop(old);
    indexes.merkle.item(full, before.digest, None)?;
    indexes.tombstones.update(full, before.tombstone, None)
}

fn put_block(
    blocks: &mut BlocksTable<'_>,
    merkle: &mut merkle::MerkleTables<'_>,
    id: BlockId,
    data: &[u8],
) -> Result<WriteOutcome, StoreError> {
    let key = id.to_key();
    let old =
        blocks.get(key.as_slice()).map_err(redb_err)?.map(|v| merkle::block_content(v.value()));
    // Encoded straight into the page: a block is copied once on its way to the file.
    let mut slot = blocks
        .insert_reserve(key.as_slice(), data.len() + codec::BLOCK_OVERHEAD)
        .map_err(redb_err)?;
    let stored = slot.as_mut();
    codec::encode_block_into(data, stored);
    let new = merkle::block_content(stored);
    drop(slot);
    merkle.block(id, old, Some(new))?;
    Ok(WriteOutcome::Done)
}

fn remove_block(
    blocks: &mut BlocksTable<'_>,
    merkle: &mut merkle::MerkleTables<'_>,
    id: BlockId,
) -> Result<(), StoreError> {
    let old = blocks
        .remove(id.to_key().as_slice())
        .map_err(redb_err)?
        .map(|v| merkle::block_content(v.value()));
    merkle.block(id, old, None)
}

/// A counter of the meta table (absent: 0).
fn meta_u64(
    meta: &redb::Table<'_, &'static str, &'static [u8]>,
    name: &str,
) -> Result<u64, StoreError> {
    let value = meta.get(name).map_err(redb_err)?;
    Ok(codec::decode_meta_u64(value.as_ref().map(|v| v.value())))
}

/// Raises the stored ceiling of the clock counters this node may mint to `ceiling`, never
/// lowering it (two raises may commit in either order).
fn raise_mint_ceiling(
    meta: &mut redb::Table<'_, &'static str, &'static [u8]>,
    ceiling: u64,
) -> Result<(), StoreError> {
    if ceiling > meta_u64(meta, mint::LAST_MINTED)? {
        meta.insert(mint::LAST_MINTED, ceiling.to_be_bytes().as_slice()).map_err(redb_err)?;
    }
    Ok(())
}

/// A consensus step of a round run under `layout`, on an acceptor fenced at `fence`: the
/// acceptor answers; a promise carries the item as held here (the round's read); a commit
/// merges the decided version into the item.
fn consensus_step(
    items: &mut ItemsTable<'_>,
    indexes: &mut Indexes<'_>,
    paxos_table: &mut paxos::PaxosTable<'_>,
    (table, key): (TableId, &[u8]),
    request: crate::consensus::Request<paxos::PaxosValue>,
    (layout, fence): (u64, u64),
) -> Result<WriteOutcome, StoreError> {
    let full = item_key(table, key);
    let paxos::Stepped { reply, apply, decided } =
        paxos::step(paxos_table, &full, request, layout, fence)?;
    let current = match (&reply, apply) {
        (crate::consensus::Reply::Promise { .. }, _) => load(items, &full)?.0,
        (_, Some(version)) => {
            merge(items, indexes, table, key, &Siblings::from(version))?;
            Siblings::new()
        }
        _ => Siblings::new(),
    };
    Ok(WriteOutcome::Paxos(paxos::PaxosAnswer { reply, current, decided }))
}

fn merge(
    items: &mut ItemsTable<'_>,
    indexes: &mut Indexes<'_>,
    table: TableId,
    key: &[u8],
    incoming: &Siblings,
) -> Result<WriteOutcome, StoreError> {
    let full = item_key(table, key);
    let (mut current, old) = load(items, &full)?;
    let before = Before::of(old, &current);
    // A set stored in arrival order is rewritten in the canonical one, so that replicas
    // holding the same versions converge byte for byte.
    let reordered = current.canonicalize();
    let changed = current.merge(incoming) || reordered;
    if changed {
        store_item(items, indexes, &full, before, &current)?;
    }
    Ok(WriteOutcome::Merged { changed })
}

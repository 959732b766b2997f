//! Minting versions: this node's clock counters, handed out from memory.
//!
//! A new version of an item is `context` with this node's entry raised to a counter that this
//! node never issued before, for any key. Counting per node, not per key, matters once a node
//! forgot a key (clean-up while it did not own it) and owns it again: a per-key count would
//! restart and reissue a counter that older versions carry, and the new version (an
//! acknowledged delete, say) would be dominated by them and lost (simulation seed 850 of 1000).
//!
//! The counter lives in memory; what is durable is a *ceiling* (meta `last_minted`) that every
//! counter handed out stays at or below. A counter above the durable ceiling is handed out only
//! once a higher ceiling, a block of [`MINT_BLOCK`] ahead, committed. A restart resumes above
//! the ceiling, so no counter is ever issued twice, and one fsync buys a block of mints.
//!
//! Minting therefore costs no write of its own: the coordinator of a PUT mints in memory and
//! writes its own copy in parallel with the other owners' (before, the mint was a durable
//! write that had to finish before any copy started). The mint reads nothing it then writes
//! back, so it needs no transaction: two mints racing for one key through this node get
//! distinct counters, and the later one supersedes the earlier exactly as when the writer
//! serialized them (the stored item only raises the floor, for counters of an older build).

use std::sync::Mutex;

use redb::{Database, ReadableDatabase};

use super::{Store, StoreError, TableId, WriteOp, codec, redb_err, tables};
use crate::causality::{Actor, Sibling, Siblings, VectorClock};

/// How many counters one durable ceiling covers.
pub const MINT_BLOCK: u64 = 4096;

/// Meta key of the ceiling of the clock counters this node may mint (see the module doc).
pub(super) const LAST_MINTED: &str = "last_minted";

/// The counter handed out last and the highest ceiling known durable.
#[derive(Debug, Default)]
pub(super) struct Minter {
    state: Mutex<MintState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct MintState {
    issued: u64,
    durable: u64,
}

impl Minter {
    /// A minter resuming above `ceiling`, the durable ceiling of the last run.
    fn resume(ceiling: u64) -> Self {
        Self { state: Mutex::new(MintState { issued: ceiling, durable: ceiling }) }
    }

    /// A minter resuming above the ceiling stored in `db`.
    pub(super) fn resume_from(db: &Database) -> Result<Self, StoreError> {
        let txn = db.begin_read().map_err(redb_err)?;
        let meta = txn.open_table(tables::META).map_err(redb_err)?;
        let stored = meta.get(LAST_MINTED).map_err(redb_err)?;
        Ok(Self::resume(codec::decode_meta_u64(stored.as_ref().map(|v| v.value()))))
    }

    /// Takes the next counter above `floor`; says whether the durable ceiling covers it.
    fn take(&self, floor: u64) -> (u64, bool) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let counter = state.issued.max(floor) + 1;
        state.issued = counter;
        (counter, counter <= state.durable)
    }

    fn made_durable(&self, ceiling: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.durable = state.durable.max(ceiling);
    }
}

impl Store {
    /// A counter for `actor`'s clock entry above `floor` and above every counter this node
    /// issued before, durable in the sense that no later run issues it again.
    pub async fn mint_counter(&self, floor: u64) -> Result<u64, StoreError> {
        let (counter, covered) = self.minter.take(floor);
        if !covered {
            let ceiling = counter.saturating_add(MINT_BLOCK);
            self.write(WriteOp::RaiseMintCeiling { ceiling }).await?;
            self.minter.made_durable(ceiling);
        }
        Ok(counter)
    }

    /// The clock of a new version of the item, minted by `actor` (this node): `context` with
    /// `actor`'s entry above every counter of it this store holds for the item and every one
    /// this node issued. Nothing is stored.
    pub async fn mint_clock(
        &self,
        (table, key): (TableId, &[u8]),
        mut context: VectorClock,
        actor: Actor,
    ) -> Result<VectorClock, StoreError> {
        let stored = self.get(table, key)?.unwrap_or_default();
        let highest = stored.iter().map(|s| s.clock.get(actor)).max().unwrap_or(0);
        let counter = self.mint_counter(context.get(actor).max(highest)).await?;
        context.set(actor, counter);
        Ok(context)
    }

    /// Mints a version (see [`Store::mint_clock`]) and stores it durably: what an owner does
    /// when another node coordinates a write through it.
    pub async fn coordinate(
        &self,
        (table, key): (TableId, Vec<u8>),
        context: VectorClock,
        actor: Actor,
        timestamp_ms: i64,
        value: Option<Vec<u8>>,
    ) -> Result<Sibling, StoreError> {
        let clock = self.mint_clock((table, &key), context, actor).await?;
        let sibling = Sibling { clock, timestamp_ms, writer: actor, value };
        let siblings = Siblings::from(sibling.clone());
        self.write(WriteOp::Merge { table, key, siblings, hint_for: None }).await?;
        Ok(sibling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_above_the_durable_ceiling_ask_for_a_new_one() {
        let minter = Minter::resume(10);
        assert_eq!(minter.take(0), (11, false), "a fresh run starts above the last ceiling");
        minter.made_durable(11 + MINT_BLOCK);
        assert_eq!(minter.take(0), (12, true));
        assert_eq!(minter.take(100), (101, true), "a floor from a stored clock is honoured");
        assert_eq!(minter.take(5), (102, true), "never below a counter already issued");
        assert_eq!(minter.take(11 + MINT_BLOCK), (12 + MINT_BLOCK, false));
        minter.made_durable(3);
        assert!(!minter.take(0).1, "a ceiling is never lowered by a late answer");
    }

    /// A node that crashes after handing out counters from memory must not hand them out
    /// again: the versions carrying them may already be acknowledged on other nodes.
    #[tokio::test]
    async fn a_reopened_store_mints_above_every_counter_of_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let options = super::super::StoreOptions::default;
        let mut last = 0;
        for run in 0..3 {
            let store = Store::open(&path, options()).unwrap();
            for _ in 0..10 {
                let counter = store.mint_counter(0).await.unwrap();
                assert!(counter > last, "run {run}: {counter} after {last}");
                last = counter;
            }
            let ceiling = codec::decode_meta_u64(store.get_meta(LAST_MINTED).unwrap().as_deref());
            assert!(ceiling >= last, "every counter handed out is under the durable ceiling");
            assert!(ceiling <= last + MINT_BLOCK, "one ceiling covers a run's mints");
            // Closing writes nothing: the counters handed out were only ever in memory.
            store.close().await;
        }
        let store = Store::open(&path, options()).unwrap();
        let clock = store.mint_clock((TableId(2), b"k"), VectorClock::new(), 1).await.unwrap();
        assert!(clock.get(1) > last);
    }
}

//! The keys a run may read or delete. A reader holds a lease on its key until its request ends,
//! and a delete only takes a key nobody holds, so a mixed load never reads a key it is deleting
//! itself (which would count as an error the server did not make).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rand::Rng;

#[derive(Debug)]
pub struct PoolKey {
    pub name: String,
    pub size: u64,
    readers: AtomicU32,
}

/// A key leased for reading; the lease ends when this is dropped.
pub struct Lease(Arc<PoolKey>);

impl std::ops::Deref for Lease {
    type Target = PoolKey;
    fn deref(&self) -> &PoolKey {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.readers.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
pub struct KeyPool {
    keys: Mutex<Vec<Arc<PoolKey>>>,
}

/// How many random picks a delete tries before it gives up on a pool where every key is read.
const DELETE_PICKS: usize = 16;

impl KeyPool {
    pub fn add(&self, name: String, size: u64) {
        let key = Arc::new(PoolKey { name, size, readers: AtomicU32::new(0) });
        self.lock().push(key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A random key, leased for reading.
    pub fn lease(&self, rng: &mut impl Rng) -> Option<Lease> {
        let keys = self.lock();
        if keys.is_empty() {
            return None;
        }
        let key = Arc::clone(&keys[rng.random_range(0..keys.len())]);
        // Taken under the lock, so `take` (which checks under the same lock) sees it.
        key.readers.fetch_add(1, Ordering::AcqRel);
        Some(Lease(key))
    }

    /// Removes a random key that no reader holds, to be deleted by the caller.
    pub fn take(&self, rng: &mut impl Rng) -> Option<(String, u64)> {
        let mut keys = self.lock();
        for _ in 0..DELETE_PICKS {
            if keys.is_empty() {
                return None;
            }
            let i = rng.random_range(0..keys.len());
            if keys[i].readers.load(Ordering::Acquire) == 0 {
                let key = keys.swap_remove(i);
                return Some((key.name.clone(), key.size));
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<PoolKey>>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn a_leased_key_is_never_taken_for_deletion_until_its_lease_ends() {
        let pool = KeyPool::default();
        let mut rng = StdRng::seed_from_u64(7);
        pool.add("only".into(), 3);
        let lease = pool.lease(&mut rng).unwrap();
        assert_eq!((lease.name.as_str(), lease.size), ("only", 3));
        assert_eq!(pool.take(&mut rng), None);
        drop(lease);
        assert_eq!(pool.take(&mut rng), Some(("only".into(), 3)));
        assert!(pool.is_empty());
        assert!(pool.lease(&mut rng).is_none());
    }

    #[test]
    fn takes_drain_the_pool_once_each() {
        let pool = KeyPool::default();
        let mut rng = StdRng::seed_from_u64(1);
        for i in 0..50 {
            pool.add(format!("k{i}"), i);
        }
        let mut taken: Vec<_> = std::iter::from_fn(|| pool.take(&mut rng)).map(|t| t.1).collect();
        taken.sort_unstable();
        assert_eq!(taken, (0..50).collect::<Vec<_>>());
    }
}

//! `ringvault bench`: a load generator for any S3 endpoint (this store or another, side by
//! side). A run has three phases: *prepare* writes the objects a read, delete or list workload
//! needs; *run* has `concurrency` workers issue the workload's operations until the duration or
//! the count is reached, each timing its own requests; *clean* deletes everything under the
//! run's prefix (unless kept). Only the run phase is measured.
//!
//! Workers are spread over the endpoints in turn (worker `w` talks to endpoint `w mod n`), so a
//! ring is loaded through all its nodes. Every worker keeps its own statistics, merged at the
//! end, so measuring adds no shared lock to the hot path; progress is a few atomic counters the
//! command line polls.

pub mod client;
mod plan;
mod pool;
pub mod report;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngCore as _, SeedableRng as _};
use tokio::task::JoinSet;

pub use self::client::{RequestError, S3Client, Target};
pub use self::plan::{Mix, ObjectSize, Op, Plan, Stop, default_objects, parse_bytes};
use self::pool::KeyPool;
pub use self::report::{OpStats, Report, RunFacts};
use crate::clock::SharedClock;

/// Size of the random block every request body is cut from (larger bodies repeat it).
const BLOCK_BYTES: usize = 1 << 20;

/// Which phase a run is in, for the progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prepare = 0,
    Run = 1,
    Clean = 2,
}

/// Counters the command line polls while a run goes on; `cancel` ends the current phase early.
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    /// Operations done in the current phase, and how many the phase has (0: bounded by time).
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    cancelled: AtomicBool,
}

impl Progress {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Prepare,
            1 => Phase::Run,
            _ => Phase::Clean,
        }
    }

    /// Stops the run phase at the next operation boundary (Ctrl-C); cleaning still happens.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    fn enter(&self, phase: Phase, total: u64) {
        self.done.store(0, Ordering::Release);
        self.bytes.store(0, Ordering::Release);
        self.errors.store(0, Ordering::Release);
        self.total.store(total, Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
    }

    fn tick(&self, bytes: u64, failed: bool) {
        self.done.fetch_add(1, Ordering::AcqRel);
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        if failed {
            self.errors.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What every worker shares.
struct Shared {
    plan: Plan,
    clients: Vec<S3Client>,
    block: Bytes,
    pool: KeyPool,
    /// Index of the next object name to write.
    next_key: AtomicU64,
    /// Operations started in the run phase (for `Stop::Count`).
    started: AtomicU64,
    progress: Arc<Progress>,
    clock: SharedClock,
}

/// Carries out `plan`, reporting progress through `progress`.
pub async fn run(
    plan: Plan,
    clock: SharedClock,
    progress: Arc<Progress>,
) -> anyhow::Result<Report> {
    plan.check().map_err(anyhow::Error::msg)?;
    let clients: Vec<S3Client> = plan
        .targets
        .iter()
        .map(|t| {
            let per_endpoint = plan.concurrency.div_ceil(plan.targets.len());
            S3Client::new(t.clone(), clock.clone(), per_endpoint, plan.timeout)
        })
        .collect();
    clients[0].ensure_bucket(&plan.bucket).await.map_err(|e| {
        anyhow::anyhow!("creating bucket {} on {}: {e}", plan.bucket, clients[0].endpoint())
    })?;
    let mut block = vec![0; BLOCK_BYTES.min(usize::try_from(plan.size.max).unwrap_or(BLOCK_BYTES))];
    StdRng::from_os_rng().fill_bytes(&mut block);
    let shared = Arc::new(Shared {
        plan,
        clients,
        block: Bytes::from(block),
        pool: KeyPool::default(),
        next_key: AtomicU64::new(0),
        started: AtomicU64::new(0),
        progress,
        clock,
    });

    if shared.plan.needs_existing() {
        prepare(&shared).await?;
    }
    let stop = shared.plan.stop;
    shared.progress.enter(Phase::Run, if let Stop::Count(n) = stop { n } else { 0 });
    let start = shared.clock.monotonic();
    let deadline = match stop {
        Stop::After(d) => Some(start + d),
        Stop::Count(_) => None,
    };
    let mut workers = JoinSet::new();
    for worker in 0..shared.plan.concurrency {
        workers.spawn(work(Arc::clone(&shared), worker, deadline));
    }
    let mut stats: BTreeMap<Op, OpStats> = BTreeMap::new();
    while let Some(done) = workers.join_next().await {
        for (op, s) in done? {
            stats.entry(op).or_default().merge(&s);
        }
    }
    let elapsed = shared.clock.monotonic() - start;
    let plan = &shared.plan;
    let facts = RunFacts {
        workload: plan.name.clone(),
        endpoints: shared.clients.iter().map(|c| c.endpoint().to_owned()).collect(),
        bucket: plan.bucket.clone(),
        concurrency: plan.concurrency,
        object_size: plan.size.to_string(),
        elapsed,
    };
    let mut report = Report::new(facts, &stats);
    report.cleanup = Some(if plan.keep {
        format!("kept every object under {}/ in {}", plan.prefix, plan.bucket)
    } else {
        match clean(&shared).await {
            Ok(n) => format!("deleted {n} objects under {}/", plan.prefix),
            Err(e) => format!("cleaning {}/ failed: {e}", plan.prefix),
        }
    });
    Ok(report)
}

/// Writes the objects the workload reads (or discovers them, when reusing a kept run's).
async fn prepare(shared: &Arc<Shared>) -> anyhow::Result<()> {
    let plan = &shared.plan;
    if plan.reuse {
        if plan.mix.ops().all(|op| op == Op::List) {
            return Ok(());
        }
        let client = &shared.clients[0];
        let mut token = None;
        let mut found = 0u64;
        loop {
            let page = client
                .list_page(&plan.bucket, &format!("{}/", plan.prefix), None, token.as_deref())
                .await?;
            for key in page.keys {
                // A kept run's objects are all of one size when the size is fixed; a range is
                // checked per object by HEAD, so the pool records what GET must return.
                let size = match plan.size.min == plan.size.max {
                    true => plan.size.min,
                    false => client.head(&plan.bucket, &key).await?,
                };
                shared.pool.add(key, size);
                found += 1;
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        anyhow::ensure!(found > 0, "--reuse: no objects under {}/ in {}", plan.prefix, plan.bucket);
        shared.next_key.store(found, Ordering::Release);
        return Ok(());
    }
    shared.progress.enter(Phase::Prepare, plan.objects);
    let mut writers = JoinSet::new();
    for worker in 0..plan.concurrency {
        let shared = Arc::clone(shared);
        writers.spawn(async move {
            let client = &shared.clients[worker % shared.clients.len()];
            let mut rng = StdRng::from_os_rng();
            loop {
                let index = shared.next_key.fetch_add(1, Ordering::AcqRel);
                if index >= shared.plan.objects || shared.progress.cancelled() {
                    return Ok::<_, anyhow::Error>(());
                }
                let key = shared.plan.key(index);
                let size = shared.plan.size.sample(&mut rng);
                let body = client::LoadBody::of_len(&shared.block, size);
                client
                    .put(&shared.plan.bucket, &key, body)
                    .await
                    .map_err(|e| anyhow::anyhow!("preparing {key}: {e}"))?;
                shared.pool.add(key, size);
                shared.progress.tick(size, false);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    shared.next_key.store(plan.objects, Ordering::Release);
    anyhow::ensure!(!shared.progress.cancelled(), "cancelled while preparing");
    Ok(())
}

/// One worker of the run phase.
async fn work(
    shared: Arc<Shared>,
    worker: usize,
    deadline: Option<Instant>,
) -> BTreeMap<Op, OpStats> {
    let client = &shared.clients[worker % shared.clients.len()];
    let plan = &shared.plan;
    let mut rng = StdRng::from_os_rng();
    let mut stats: BTreeMap<Op, OpStats> = BTreeMap::new();
    let mut listing: Option<String> = None;
    loop {
        if shared.progress.cancelled() || deadline.is_some_and(|d| shared.clock.monotonic() >= d) {
            break;
        }
        if let Stop::Count(n) = plan.stop
            && shared.started.fetch_add(1, Ordering::AcqRel) >= n
        {
            break;
        }
        let op = plan.mix.pick(&mut rng);
        let began = shared.clock.monotonic();
        let outcome = match op {
            Op::Put | Op::Multipart => {
                let index = shared.next_key.fetch_add(1, Ordering::AcqRel);
                let key = plan.key(index);
                let size = plan.size.sample(&mut rng);
                let written = match op {
                    Op::Put => {
                        let body = client::LoadBody::of_len(&shared.block, size);
                        client.put(&plan.bucket, &key, body).await
                    }
                    _ => {
                        client
                            .multipart(&plan.bucket, &key, &shared.block, size, plan.part_size)
                            .await
                    }
                };
                // Only a mixed load reads what it writes; a pure PUT load keeps no names.
                if written.is_ok() && plan.needs_existing() {
                    shared.pool.add(key, size);
                }
                written.map(|()| (size, 0))
            }
            Op::Get | Op::Head => {
                let Some(lease) = shared.pool.lease(&mut rng) else {
                    if nothing_left(&shared).await {
                        break;
                    }
                    continue;
                };
                let got = match op {
                    Op::Get => client.get(&plan.bucket, &lease.name).await,
                    _ => client.head(&plan.bucket, &lease.name).await,
                };
                match got {
                    Ok(n) if n == lease.size => Ok((if op == Op::Get { n } else { 0 }, 0)),
                    Ok(n) => Err(RequestError::Unexpected(format!(
                        "{} has {n} bytes, {} were written",
                        lease.name, lease.size
                    ))),
                    Err(e) => Err(e),
                }
            }
            Op::Delete => {
                let Some((key, _)) = shared.pool.take(&mut rng) else {
                    if nothing_left(&shared).await {
                        break;
                    }
                    continue;
                };
                client.delete(&plan.bucket, &key).await.map(|()| (0, 0))
            }
            Op::List => {
                let prefix = format!("{}/", plan.prefix);
                let delimiter = plan.delimiter.then_some("/");
                let page =
                    client.list_page(&plan.bucket, &prefix, delimiter, listing.as_deref()).await;
                page.map(|page| {
                    listing = page.next_token;
                    (0, (page.keys.len() + page.common_prefixes) as u64)
                })
            }
        };
        let latency = shared.clock.monotonic() - began;
        let entry = stats.entry(op).or_default();
        match outcome {
            Ok((bytes, entries)) => {
                entry.success(latency, bytes, entries);
                shared.progress.tick(bytes, false);
            }
            Err(e) => {
                entry.failure(e.to_string());
                shared.progress.tick(0, true);
            }
        }
    }
    stats
}

/// Called when an operation found no key to use: whether the worker should stop, because the
/// pool is empty and nothing in the mix refills it. Otherwise (keys exist but are all being read,
/// or PUTs will add some) the worker yields and tries again; the operation is not counted.
async fn nothing_left(shared: &Shared) -> bool {
    let plan = &shared.plan;
    let refills = plan.mix.ops().any(|op| matches!(op, Op::Put | Op::Multipart));
    if !refills && shared.pool.is_empty() {
        return true;
    }
    if let Stop::Count(_) = plan.stop {
        shared.started.fetch_sub(1, Ordering::AcqRel);
    }
    tokio::task::yield_now().await;
    false
}

/// Deletes every object under the run's prefix, 1,000 per request; returns how many.
async fn clean(shared: &Arc<Shared>) -> anyhow::Result<u64> {
    let plan = &shared.plan;
    shared.progress.enter(Phase::Clean, 0);
    let client = shared.clients[0].clone();
    let prefix = format!("{}/", plan.prefix);
    let mut deleting: JoinSet<anyhow::Result<u64>> = JoinSet::new();
    let mut deleted = 0;
    let mut token = None;
    loop {
        let page = client.list_page(&plan.bucket, &prefix, None, token.as_deref()).await?;
        if !page.keys.is_empty() {
            while deleting.len() >= plan.concurrency.clamp(1, 8) {
                deleted += deleting.join_next().await.expect("non-empty")??;
            }
            let (client, bucket, progress) =
                (client.clone(), plan.bucket.clone(), Arc::clone(&shared.progress));
            deleting.spawn(async move {
                let failed = client.delete_many(&bucket, &page.keys).await?;
                anyhow::ensure!(failed == 0, "{failed} objects were not deleted");
                progress.done.fetch_add(page.keys.len() as u64, Ordering::AcqRel);
                Ok(page.keys.len() as u64)
            });
        }
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    while let Some(done) = deleting.join_next().await {
        deleted += done??;
    }
    Ok(deleted)
}

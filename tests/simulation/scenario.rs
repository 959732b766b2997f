//! The scenario one seed runs, and the checks it makes along the way.
//!
//! 1. **Calm**: mutations with no fault at all. After each acknowledged one, a read through a
//!    random node must see every acknowledged write of that key, and a scan through a random
//!    node must list every key with every acknowledged write (R + W > N, no failures).
//! 2. **Storm**: each step may crash a node (its host silent: calls time out), kill one (calls
//!    refused at once) or restart one (at most two down of five), cut or heal a link, slow a
//!    node down (alive, answering late), or change the loss of requests, replies and the
//!    latency; then runs a mutation (which its client sometimes gives up on after a random
//!    delay, dropping it at whatever await point it reached), a read, or two racing mutations
//!    of one key through different nodes. Now and then a node runs a hinted-handoff pass; read
//!    repairs are sent every step.
//! 3. **Heal**: every fault cleared, crashed nodes restarted, time passes so detectors see all
//!    nodes and in-flight copies land, then handoff and repair run until nothing is left.
//!    Every owner must cover every acknowledged write; acknowledged deletes stay deleted.
//! 4. **Calm again**, with the reads and scans checked against the whole history.
//!
//! Throughout the storm, clients also race conditional writes on keys of their own (see
//! `conditional`); after each heal their history is checked for linearizability. Others write
//! and delete versions in a versioned bucket through the objects layer (see `versioned`); after
//! each heal no acknowledged version may be missing.
//!
//! Storm, heal and calm repeat. Every mutation first reads the key for its causal context, as
//! the objects layer does, and lets a millisecond pass so that timestamps follow issue order.

use std::ops::Bound;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringvault::causality::{Sibling, Siblings};
use ringvault::coordinator::{Coordinator, CoordinatorError, QuorumConfig, ScanRange, Scope};
use ringvault::rpc::FaultPlan;

use crate::cluster::{HEARTBEAT, SimCluster, TABLE};
use crate::conditional::{self, Condition};
use crate::model::{Model, Violation};
use crate::versioned;

const NODES: u64 = 5;
const MAX_DOWN: usize = 2;
const KEYS: u32 = 12;
const CALM_OPS: usize = 30;
const STORMS: usize = 3;
const STORM_STEPS: usize = 100;
const CALM_AFTER_OPS: usize = 15;
/// Anti-entropy rounds (a pass on every node) after healing, at most, before owners must agree.
const ANTI_ENTROPY_ROUNDS_MAX: usize = 4;
/// Steps after healing before handoff starts: longer than any in-flight call.
const SETTLE_STEPS: usize = 30;
/// `(R, W)` choices for N = 3, one per seed; all overlap (R + W > N).
const QUORUMS: [(usize, usize); 3] = [(2, 2), (1, 3), (3, 1)];
/// Handoff and repair rounds allowed to reach quiescence.
const DRAIN_ROUNDS_MAX: usize = 50;
/// How old a tombstone must be to be purged: long past every request and copy in flight.
pub const PURGE_GRACE: Duration = Duration::from_secs(3);

/// How one mutation ended.
enum Outcome {
    /// The read for the causal context failed: nothing was written.
    NoContext(CoordinatorError),
    Acked(Sibling),
    Failed(CoordinatorError),
    /// The client gave up at some await point of the mutation: it may or may not have landed.
    Cancelled,
}

/// A read of the key for its context, then the write, as the objects layer does it.
async fn mutation(c: Coordinator, key: Vec<u8>, value: Option<Vec<u8>>) -> Outcome {
    let context = match c.get(TABLE, &key).await {
        Ok(siblings) => siblings.context(),
        Err(e) => return Outcome::NoContext(e),
    };
    tokio::time::sleep(Duration::from_millis(1)).await;
    match c.put(TABLE, &key, value, context).await {
        Ok(sibling) => Outcome::Acked(sibling),
        Err(e) => Outcome::Failed(e),
    }
}

/// `work`, or `gave_up` if it has not finished after `patience`: a client that hangs up drops
/// the request future at whatever await point it reached.
async fn within<T>(patience: Option<Duration>, work: impl Future<Output = T>, gave_up: T) -> T {
    match patience {
        Some(patience) => tokio::select! {
            biased;
            outcome = work => outcome,
            () = tokio::time::sleep(patience) => gave_up,
        },
        None => work.await,
    }
}

/// What a run exercised, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub acked: u64,
    pub failed: u64,
    pub no_context: u64,
    pub faults: u64,
    /// Mutations their client gave up on midway.
    pub cancelled: u64,
    pub handed_off: u64,
    pub repairs: u64,
    /// Owner stores checked after healing, and keys among them checked as deleted.
    pub owner_checks: u64,
    pub delete_checks: u64,
    /// Items and blocks anti-entropy moved.
    pub anti_entropy_moved: u64,
    /// Tombstones purged from every member.
    pub purged: u64,
    /// Layout changes, and items clean-up dropped from nodes that no longer own them.
    pub layout_changes: u64,
    pub cleaned_up: u64,
    /// Conditional writes: acknowledged, refused (condition false), undecided.
    pub conditional_acked: u64,
    pub conditional_refused: u64,
    pub conditional_undecided: u64,
    pub conditional_contended: u64,
    /// Versioned-bucket operations acknowledged, and failed or given up.
    pub versioned_acked: u64,
    pub versioned_failed: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.acked += o.acked;
        self.failed += o.failed;
        self.no_context += o.no_context;
        self.faults += o.faults;
        self.cancelled += o.cancelled;
        self.handed_off += o.handed_off;
        self.repairs += o.repairs;
        self.owner_checks += o.owner_checks;
        self.delete_checks += o.delete_checks;
        self.anti_entropy_moved += o.anti_entropy_moved;
        self.purged += o.purged;
        self.layout_changes += o.layout_changes;
        self.cleaned_up += o.cleaned_up;
        self.conditional_acked += o.conditional_acked;
        self.conditional_refused += o.conditional_refused;
        self.conditional_undecided += o.conditional_undecided;
        self.conditional_contended += o.conditional_contended;
        self.versioned_acked += o.versioned_acked;
        self.versioned_failed += o.versioned_failed;
    }
}

pub struct Scenario {
    seed: u64,
    pub stats: Stats,
    rng: StdRng,
    cluster: SimCluster,
    model: Model,
    /// The conditional writes issued, for the linearizability checker.
    conditional: conditional::History,
    /// The versioned-bucket operations issued, for their checker.
    versioned: versioned::History,
    pub step: u64,
    ops: u64,
    /// Every event and outcome, in order: two runs of one seed must produce the same trace.
    pub trace: Vec<String>,
}

impl Scenario {
    /// Must be called inside the simulation's runtime.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (r, w) = QUORUMS[rng.random_range(0..QUORUMS.len())];
        let quorum = QuorumConfig { read_quorum: Some(r), write_quorum: Some(w) };
        let mut scenario = Self {
            seed,
            stats: Stats::default(),
            rng,
            cluster: SimCluster::with_quorum(seed, NODES, quorum),
            model: Model::default(),
            conditional: conditional::History::default(),
            versioned: versioned::History::default(),
            step: 0,
            ops: 0,
            trace: Vec::new(),
        };
        scenario.log(format!("{NODES} nodes, N=3 R={r} W={w}"));
        scenario
    }

    pub async fn run(&mut self) -> Result<(), Violation> {
        self.log("calm".into());
        self.create_versioned_bucket().await?;
        self.calm(CALM_OPS).await?;
        for round in 0..STORMS {
            self.log(format!("storm {round}"));
            self.storm(STORM_STEPS).await?;
            self.log("heal".into());
            self.heal().await?;
            self.log_digests();
            let (cluster, step) = (&self.cluster, self.step);
            self.model.check_converged(step, |k| cluster.owners(k), |i, k| cluster.local(i, k))?;
            self.count_converged_checks();
            self.anti_entropy_converges().await?;
            // Anti-entropy only merges: what every owner held stays (or a successor).
            let (cluster, step) = (&self.cluster, self.step);
            self.model.check_converged(step, |k| cluster.owners(k), |i, k| cluster.local(i, k))?;
            // Every node drops what it no longer owns and purges what is due, then
            // anti-entropy runs again: nothing dropped or purged comes back, and owners still
            // agree.
            for i in 0..self.cluster.nodes.len() {
                let (items, blocks) = self.cluster.cleanup(i).await;
                self.log(format!("clean-up on #{i}: {items} items, {blocks} blocks"));
            }
            for i in 0..self.cluster.nodes.len() {
                self.purge(i).await?;
            }
            self.anti_entropy_converges().await?;
            let (cluster, step) = (&self.cluster, self.step);
            self.model.check_converged(step, |k| cluster.owners(k), |i, k| cluster.local(i, k))?;
            self.model.check_purged(step, |k| cluster.anywhere(k))?;
            self.check_conditional().await?;
            // Settling may have taken long enough for detectors to forget their peers: the
            // gossip a real node runs all along.
            self.tick().await;
            let node = self.pick(&self.cluster.running());
            self.versioned.check(self.step, &self.cluster.objects(node)).await?;
            self.log("calm".into());
            self.calm(CALM_AFTER_OPS).await?;
        }
        self.stats.conditional_acked = self.conditional.acked;
        self.stats.conditional_refused = self.conditional.refused;
        self.stats.conditional_undecided = self.conditional.undecided;
        self.stats.conditional_contended = self.conditional.contended;
        self.stats.versioned_acked = self.versioned.acked;
        self.stats.versioned_failed = self.versioned.failed;

        Ok(())
    }

    /// One line per node with a digest of every key it holds: two runs of a seed that agree
    /// on their traces then also agree on what each store holds.
    fn log_digests(&mut self) {
        use std::hash::{DefaultHasher, Hash, Hasher};
        for i in 0..self.cluster.nodes.len() {
            let mut hasher = DefaultHasher::new();
            for key in self.model.keys.keys() {
                format!("{:?}", self.cluster.local(i, key)).hash(&mut hasher);
            }
            self.log(format!("store #{i} digest {:016x}", hasher.finish()));
        }
    }

    fn count_converged_checks(&mut self) {
        for (key, history) in &self.model.keys {
            let owners = self.cluster.owners(key).len() as u64;
            self.stats.owner_checks += owners;
            if history.last.as_ref().is_some_and(|l| l.delete && l.acked && !l.contended) {
                self.stats.delete_checks += owners;
            }
        }
    }

    fn log(&mut self, line: String) {
        self.trace.push(format!("{:4} {line}", self.step));
    }

    fn violation(&self, property: &'static str, detail: String) -> Violation {
        Violation { step: self.step, property, detail }
    }

    async fn tick(&mut self) {
        self.step += 1;
        tokio::time::sleep(HEARTBEAT).await;
        self.cluster.heartbeat();
    }

    fn key(&mut self) -> Vec<u8> {
        format!("k{:02}", self.rng.random_range(0..KEYS)).into_bytes()
    }

    fn pick(&mut self, among: &[usize]) -> usize {
        among[self.rng.random_range(0..among.len())]
    }

    fn value(&mut self, delete: bool) -> Option<Vec<u8>> {
        self.ops += 1;
        (!delete).then(|| format!("s{}o{}", self.seed, self.ops).into_bytes())
    }

    /// Records a mutation's outcome in the model and the trace; true if acknowledged.
    fn record(
        &mut self,
        node: usize,
        key: &[u8],
        delete: bool,
        outcome: &Outcome,
        contended: bool,
    ) -> bool {
        let verb = if delete { "delete" } else { "put" };
        let owners: Vec<String> =
            self.cluster.owners(key).iter().map(|o| format!("#{o}")).collect();
        let key_name = format!("{} (owners {})", String::from_utf8_lossy(key), owners.join(" "));
        let (acked, text) = match outcome {
            Outcome::NoContext(e) => {
                self.stats.no_context += 1;
                self.log(format!("{verb} {key_name} via #{node}: no context: {e}"));
                return false;
            }
            Outcome::Acked(s) => (Some(s), format!("acked {:?}", s.clock)),
            Outcome::Failed(e) => (None, format!("failed: {e}")),
            Outcome::Cancelled => {
                self.stats.cancelled += 1;
                (None, "cancelled by its client".into())
            }
        };
        self.model.record(key, self.step, delete, acked, contended);
        match acked {
            Some(_) => self.stats.acked += 1,
            None => self.stats.failed += 1,
        }
        self.log(format!("{verb} {key_name} via #{node}: {text}"));
        acked.is_some()
    }

    async fn calm(&mut self, ops: usize) -> Result<(), Violation> {
        let all = self.cluster.running();
        assert_eq!(all.len(), self.cluster.nodes.len(), "calm phases run with every node up");
        for _ in 0..ops {
            self.tick().await;
            let (node, key, delete) = (self.pick(&all), self.key(), self.rng.random_bool(0.3));
            let value = self.value(delete);
            let outcome = mutation(self.cluster.coordinator(node), key.clone(), value).await;
            if !self.record(node, &key, delete, &outcome, false) {
                return Err(self.violation(
                    "with no faults, every write is acknowledged",
                    self.trace.last().cloned().unwrap_or_default(),
                ));
            }
            let reader = self.pick(&all);
            let read = self.cluster.coordinator(reader).get(TABLE, &key).await;
            let read = read.map_err(|e| {
                self.violation("with no faults, every read succeeds", format!("get: {e}"))
            })?;
            self.model.check_read(
                self.step,
                "with no faults, a read after an acknowledged write sees it",
                &key,
                Some(&read),
            )?;
            let lister = self.pick(&all);
            let range = ScanRange { start: Bound::Unbounded, end: Bound::Unbounded };
            let listed = self.cluster.coordinator(lister).scan(TABLE, range, 1000).await;
            let listed = listed.map_err(|e| {
                self.violation("with no faults, every scan succeeds", format!("scan: {e}"))
            })?;
            let listed: std::collections::BTreeMap<_, _> = listed.into_iter().collect();
            for key in self.model.keys.keys() {
                self.model.check_read(
                    self.step,
                    "with no faults, a scan after an acknowledged write lists it",
                    key,
                    listed.get(key),
                )?;
            }
            self.drain_repairs().await;
        }
        Ok(())
    }

    async fn drain_repairs(&mut self) -> usize {
        let mut sent = 0;
        for i in self.cluster.running() {
            sent += self.cluster.drain_repairs(i).await;
        }
        self.stats.repairs += sent as u64;
        sent
    }

    async fn storm(&mut self, steps: usize) -> Result<(), Violation> {
        for _ in 0..steps {
            self.tick().await;
            if self.rng.random_bool(0.25) {
                self.fault();
            }
            let running = self.cluster.running();
            let roll = self.rng.random_range(0..100);
            if roll < 10 && running.len() >= 2 {
                // Two clients race on one key through different nodes.
                let a = self.pick(&running);
                let others: Vec<usize> = running.iter().copied().filter(|i| *i != a).collect();
                let b = self.pick(&others);
                let key = self.key();
                let (da, db) = (self.rng.random_bool(0.3), self.rng.random_bool(0.3));
                let (va, vb) = (self.value(da), self.value(db));
                let (oa, ob) = tokio::join!(
                    mutation(self.cluster.coordinator(a), key.clone(), va),
                    mutation(self.cluster.coordinator(b), key.clone(), vb),
                );
                self.record(a, &key, da, &oa, true);
                self.record(b, &key, db, &ob, true);
            } else if roll < 25 {
                let (node, key) = (self.pick(&running), self.key());
                let read = self.cluster.coordinator(node).get(TABLE, &key).await;
                let text = match read {
                    Ok(s) => format!("{} siblings", s.len()),
                    Err(e) => format!("failed: {e}"),
                };
                self.log(format!("get {} via #{node}: {text}", String::from_utf8_lossy(&key)));
            } else {
                let (node, key, delete) =
                    (self.pick(&running), self.key(), self.rng.random_bool(0.3));
                let value = self.value(delete);
                let write = mutation(self.cluster.coordinator(node), key.clone(), value);
                // Now and then the client gives up after a random delay: the mutation is
                // dropped at whatever await point it reached (reading the context, minting,
                // copying), as a client that hangs up drops a request future.
                let patience = self
                    .rng
                    .random_bool(0.15)
                    .then(|| Duration::from_micros(self.rng.random_range(0..300_000)));
                let outcome = within(patience, write, Outcome::Cancelled).await;
                self.record(node, &key, delete, &outcome, false);
            }
            if self.rng.random_bool(0.2) {
                self.conditional_race().await;
            }
            if self.rng.random_bool(0.15) {
                self.versioned_race().await;
            }
            if self.rng.random_bool(0.05) {
                // Anti-entropy of one partition, in the middle of the faults.
                let running = self.cluster.running();
                let node = self.pick(&running);
                let partition = self.rng.random_range(0..self.cluster.layout.partition_count());
                let (items, blocks) =
                    self.cluster.anti_entropy(node, Scope::Partition(partition)).await;
                self.stats.anti_entropy_moved += items + blocks;
                self.log(format!("anti-entropy on #{node}, partition {partition}: {items} items"));
            }
            if self.rng.random_bool(0.2) {
                let running = self.cluster.running();
                let node = self.pick(&running);
                let handed = self.cluster.handoff(node).await;
                self.stats.handed_off += handed as u64;
                self.log(format!("handoff on #{node}: {handed}"));
            }
            if self.rng.random_bool(0.2) {
                // The rebalance and the clean-up after layout changes, amid the faults.
                let running = self.cluster.running();
                let node = self.pick(&running);
                let left = self.cluster.rebalance(node).await;
                self.log(format!("rebalance on #{node}: {left} partitions left"));
                if self.rng.random_bool(0.25) {
                    let (items, blocks) = self.cluster.cleanup(node).await;
                    self.stats.cleaned_up += items as u64;
                    self.log(format!("clean-up on #{node}: {items} items, {blocks} blocks"));
                }
            }
            if self.rng.random_bool(0.05) {
                // A tombstone purge amid the faults: members that do not answer postpone it.
                let running = self.cluster.running();
                let node = self.pick(&running);
                self.purge(node).await?;
            }
            let repaired = self.drain_repairs().await;
            if repaired > 0 {
                self.log(format!("repairs sent: {repaired}"));
            }
        }
        let (cluster, step) = (&self.cluster, self.step);
        self.model.check_purged(step, |k| cluster.anywhere(k))
    }

    /// One to three clients race conditional writes on one conditional key through random
    /// nodes; an update names the operation its node's read found last. Some give up midway.
    async fn conditional_race(&mut self) {
        let running = self.cluster.running();
        let key = conditional::key(self.rng.random_range(0..conditional::KEYS));
        let mut racers = Vec::new();
        for _ in 0..self.rng.random_range(1..=3) {
            let node = self.pick(&running);
            let condition = if self.rng.random_bool(0.3) {
                Condition::Create
            } else {
                match self.cluster.coordinator(node).get(TABLE, &key).await {
                    Ok(current) => match conditional::current_log(&current) {
                        Some(log) => Condition::Extends(*log.last().unwrap_or(&0)),
                        None => Condition::Create,
                    },
                    Err(_) => continue,
                }
            };
            let id = self.conditional.begin(&key, condition, self.step);
            let patience = self
                .rng
                .random_bool(0.15)
                .then(|| Duration::from_micros(self.rng.random_range(0..300_000)));
            racers.push((node, id, condition, patience));
        }
        let runs = racers.iter().map(|(node, id, condition, patience)| {
            let write =
                conditional::run(self.cluster.coordinator(*node), key.clone(), *id, *condition);
            within(*patience, write, conditional::Outcome::Cancelled)
        });
        let outcomes = futures_util::future::join_all(runs).await;
        let owners: Vec<String> =
            self.cluster.owners(&key).iter().map(|o| format!("#{o}")).collect();
        for ((node, id, condition, _), outcome) in racers.into_iter().zip(outcomes) {
            self.conditional.end(id, &outcome, self.step);
            self.log(format!(
                "conditional {} (owners {}) op {id} {condition:?} via #{node}: {outcome:?}",
                String::from_utf8_lossy(&key),
                owners.join(" ")
            ));
        }
    }

    /// The versioned bucket, created with every node up.
    async fn create_versioned_bucket(&mut self) -> Result<(), Violation> {
        let objects = self.cluster.objects(0);
        let created = async {
            objects.create_bucket(versioned::BUCKET, "sim", "", false, Default::default()).await?;
            objects
                .set_bucket_versioning(versioned::BUCKET, ringvault::objects::Versioning::Enabled)
                .await
        };
        created.await.map_err(|e| {
            self.violation("with no faults, a versioned bucket can be made", e.to_string())
        })
    }

    /// One or two clients write versions of one key through random nodes: a PUT, a delete
    /// marker, or the deletion of a version they were told about. Some give up midway.
    async fn versioned_race(&mut self) {
        let running = self.cluster.running();
        let key = versioned::key(self.rng.random_range(0..versioned::KEYS));
        let mut racers = Vec::new();
        for _ in 0..self.rng.random_range(1..=2) {
            let node = self.pick(&running);
            let live = self.versioned.live(&key);
            let roll = self.rng.random_range(0..10);
            let op = if roll < 3 && !live.is_empty() {
                versioned::Op::Delete(live[self.rng.random_range(0..live.len())])
            } else if roll == 3 {
                versioned::Op::Mark
            } else {
                self.ops += 1;
                versioned::Op::Put(format!("s{}v{}", self.seed, self.ops).into_bytes())
            };
            let patience = self
                .rng
                .random_bool(0.15)
                .then(|| Duration::from_micros(self.rng.random_range(0..300_000)));
            racers.push((node, op, patience));
        }
        let runs = racers.iter().map(|(node, op, patience)| {
            let write = versioned::run(self.cluster.objects(*node), key.clone(), op.clone());
            within(*patience, write, versioned::Outcome::Cancelled)
        });
        let outcomes = futures_util::future::join_all(runs).await;
        for ((node, op, _), outcome) in racers.into_iter().zip(outcomes) {
            self.versioned.record(&key, &op, &outcome);
            self.log(format!("versioned {key} {op:?} via #{node}: {outcome:?}"));
        }
    }

    /// With every node up, settles each conditional key with one more consensus write and
    /// checks its chain against every conditional write's outcome.
    async fn check_conditional(&mut self) -> Result<(), Violation> {
        for n in 0..conditional::KEYS {
            let key = conditional::key(n);
            let node = self.pick(&self.cluster.running());
            let id = self.conditional.begin(&key, Condition::Any, self.step);
            let outcome =
                conditional::run(self.cluster.coordinator(node), key.clone(), id, Condition::Any)
                    .await;
            self.conditional.end(id, &outcome, self.step);
            self.log(format!("settle {} via #{node}: {outcome:?}", String::from_utf8_lossy(&key)));
            let conditional::Outcome::Acked(log) = outcome else {
                return Err(self.violation(
                    "with every node up, a conditional write is decided",
                    format!("{outcome:?}"),
                ));
            };
            self.conditional.check(self.step, &key, &log)?;
        }
        Ok(())
    }

    /// Rebalance passes on every node until each holds all it gained, then one heartbeat so
    /// that every node learns it (reads stop asking the previous owners).
    async fn finish_rebalance(&mut self) -> Result<(), Violation> {
        for round in 0..DRAIN_ROUNDS_MAX {
            let mut left = 0;
            for i in 0..self.cluster.nodes.len() {
                left += self.cluster.rebalance(i).await;
            }
            self.log(format!("rebalance round {round}: {left} partitions left"));
            if left == 0 {
                self.tick().await;
                return Ok(());
            }
            self.tick().await;
        }
        Err(self.violation("the rebalance completes once faults heal", String::new()))
    }

    /// A purge pass on node `i`; the keys it left with no copy anywhere are checked against
    /// what was acknowledged.
    async fn purge(&mut self, i: usize) -> Result<(), Violation> {
        let keys: Vec<Vec<u8>> = self.model.keys.keys().cloned().collect();
        let nodes = self.cluster.nodes.len();
        let before: Vec<Vec<Siblings>> =
            keys.iter().map(|k| (0..nodes).map(|n| self.cluster.local(n, k)).collect()).collect();
        let purged = self.cluster.purge(i, PURGE_GRACE).await;
        self.stats.purged += purged as u64;
        self.log(format!("purge on #{i}: {purged}"));
        for (key, before) in keys.iter().zip(before) {
            let after: Vec<Siblings> = (0..nodes).map(|n| self.cluster.local(n, key)).collect();
            self.model.after_purge(self.step, key, &before, &after)?;
        }
        Ok(())
    }

    fn fault(&mut self) {
        let running = self.cluster.running();
        let crashed: Vec<usize> =
            (0..self.cluster.nodes.len()).filter(|i| !self.cluster.is_running(*i)).collect();
        let ids: Vec<u64> = self.cluster.nodes.iter().map(|n| n.id).collect();
        let text = match self.rng.random_range(0..9) {
            0 if crashed.len() < MAX_DOWN => {
                let node = self.pick(&running);
                if self.rng.random_bool(0.5) {
                    self.cluster.crash(node);
                    format!("crash #{node} (silent)")
                } else {
                    self.cluster.kill(node);
                    format!("kill #{node} (refused)")
                }
            }
            1 if !crashed.is_empty() => {
                let node = self.pick(&crashed);
                self.cluster.restart(node);
                format!("restart #{node}")
            }
            2 => {
                let a = self.rng.random_range(0..ids.len());
                let b = (a + self.rng.random_range(1..ids.len())) % ids.len();
                self.cluster.net.with_faults(|f| f.partition(ids[a], ids[b]));
                format!("partition #{a} #{b}")
            }
            3 => {
                self.cluster.net.with_faults(|f| f.partitions.clear());
                "partitions healed".into()
            }
            4 => {
                let p = [0.0, 0.05, 0.2][self.rng.random_range(0..3)];
                self.cluster.net.with_faults(|f| f.drop_probability = p);
                format!("request loss {p}")
            }
            5 => {
                let p = [0.0, 0.05, 0.2][self.rng.random_range(0..3)];
                self.cluster.links.lock().unwrap().reply_drop_probability = p;
                format!("reply loss {p}")
            }
            6 => {
                let ms = [0, 2, 20][self.rng.random_range(0..3)];
                self.cluster.links.lock().unwrap().latency_max = Duration::from_millis(ms);
                format!("latency up to {ms} ms")
            }
            7 => {
                // Slow, not dead: answers come, late (past hedging deadlines, some past the
                // RPC timeout), and the failure detector still hears from the node.
                let node = self.pick(&running);
                let ms = [0, 60, 150, 600][self.rng.random_range(0..4)];
                let mut links = self.cluster.links.lock().unwrap();
                if ms == 0 {
                    links.slow.remove(&ids[node]);
                } else {
                    links.slow.insert(ids[node], Duration::from_millis(ms));
                }
                format!("#{node} slow by {ms} ms")
            }
            8 => {
                // An operator changes the membership: one node leaves (it keeps running and
                // serving as a coordinator, as a decommissioned node does until stopped), or
                // the one that left comes back.
                let members = self.cluster.members();
                let next: Vec<usize> = if members.len() == self.cluster.nodes.len() {
                    let leaving = members[self.rng.random_range(0..members.len())];
                    members.into_iter().filter(|i| *i != leaving).collect()
                } else {
                    (0..self.cluster.nodes.len()).collect()
                };
                let layout = self.cluster.change_layout(&next);
                self.stats.layout_changes += 1;
                format!("layout {} with members {next:?}", layout.version)
            }
            _ => return,
        };
        self.stats.faults += 1;
        self.log(text);
    }

    /// Runs anti-entropy passes on every node until one round moves nothing, then checks that
    /// the owners of every partition hold the same items (equal Merkle nodes): with the faults
    /// healed, replicas that anti-entropy compared agree whatever reads and hints did.
    async fn anti_entropy_converges(&mut self) -> Result<(), Violation> {
        for round in 0..ANTI_ENTROPY_ROUNDS_MAX {
            // Gossip runs all along in a real cluster: without it, detectors would forget peers
            // during long passes and anti-entropy would skip partitions as unreachable.
            self.tick().await;
            let mut moved = 0;
            for i in 0..self.cluster.nodes.len() {
                let (items, blocks) = self.cluster.anti_entropy(i, Scope::All).await;
                moved += items + blocks;
            }
            self.stats.anti_entropy_moved += moved;
            self.log(format!("anti-entropy round {round}: {moved} moved"));
            if moved == 0 {
                break;
            }
        }
        for p in 0..self.cluster.layout.partition_count() {
            let owners: Vec<usize> = self.cluster.partition_owners(p);
            let nodes: Vec<_> = owners.iter().map(|i| self.cluster.tree_node(*i, p)).collect();
            if nodes.windows(2).any(|w| w[0] != w[1]) {
                if std::env::var_os("SIM_DEBUG_ITEMS").is_some() {
                    for i in &owners {
                        let bits = self.cluster.layout.partition_bits;
                        let page = self.cluster.nodes[*i]
                            .store
                            .scan_all(None, 100_000, &|t, k| {
                                ringvault::ring::item_hash(t.0, k) >> (64 - bits) == u64::from(p)
                            })
                            .unwrap();
                        for (t, k, v) in page.0 {
                            eprintln!("#{i} t{} {:?}: {:?}", t.0, String::from_utf8_lossy(&k), v);
                        }
                    }
                }
                return Err(self.violation(
                    "owners agree after anti-entropy",
                    format!("partition {p}: owners {owners:?} hold {nodes:?}"),
                ));
            }
        }
        Ok(())
    }

    async fn heal(&mut self) -> Result<(), Violation> {
        self.cluster.net.with_faults(FaultPlan::heal);
        self.cluster.links.lock().unwrap().reply_drop_probability = 0.0;
        self.cluster.links.lock().unwrap().slow.clear();
        for i in 0..self.cluster.nodes.len() {
            if !self.cluster.is_running(i) {
                self.cluster.restart(i);
                self.log(format!("restart #{i}"));
            }
        }
        for _ in 0..SETTLE_STEPS {
            self.tick().await;
        }
        self.finish_rebalance().await?;
        for _ in 0..DRAIN_ROUNDS_MAX {
            let mut handed = 0;
            for i in 0..self.cluster.nodes.len() {
                handed += self.cluster.handoff(i).await;
            }
            self.stats.handed_off += handed as u64;
            let repaired = self.drain_repairs().await;
            let held: u64 = (0..self.cluster.nodes.len()).map(|i| self.cluster.hints_held(i)).sum();
            self.log(format!("drain: {handed} handed off, {repaired} repaired, {held} held"));
            if handed == 0 && repaired == 0 && held == 0 {
                // Nodes that lost partitions in a layout change send what the new owners lack
                // (a hint handed to an old owner, a version the rebalance's source missed).
                for i in 0..self.cluster.nodes.len() {
                    let (items, blocks) = self.cluster.cleanup(i).await;
                    self.stats.cleaned_up += items as u64;
                    self.log(format!("clean-up on #{i}: {items} items, {blocks} blocks"));
                }
                return Ok(());
            }
            self.tick().await;
        }
        let held: Vec<u64> =
            (0..self.cluster.nodes.len()).map(|i| self.cluster.hints_held(i)).collect();
        Err(self.violation(
            "hints drain once faults heal",
            format!("hints still held per node: {held:?}"),
        ))
    }
}

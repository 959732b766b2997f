//! The workload: independent workers per endpoint (a stuck endpoint stalls only its own
//! workers), each owning its keys, doing PUTs of mixed sizes, multipart uploads, overwrites,
//! deletes and verified GETs with client timeouts shorter than the server's RPC timeout, as an
//! SDK user with a deadline would. Every outcome is recorded: the history of each key (what
//! was acknowledged, what may or may not have happened) for the checks, and every request's
//! latency and success for the report.
//!
//! A key whose last operation's outcome is unknown (it timed out, or answered 5xx after its
//! retries) is retired: the request may still be running on the server (mutating requests run
//! to their end detached from the connection), so nothing more is done to it and the checks
//! accept either its previous acknowledged state or one of the unknown writes.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use ringvault::clock::{Clock, SystemClock};

pub const BUCKET: &str = "chaos";
/// Client deadline of a small request: shorter than the server's 5 s RPC timeout.
const SMALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Client deadline of a request carrying up to a few MiB.
const BODY_TIMEOUT: Duration = Duration::from_secs(4);
/// Attempts of one operation (the first and its retries), as SDKs retry.
const ATTEMPTS: usize = 3;
const KEYS_PER_WORKER: usize = 12;
/// Each worker starts an operation at most this often: a steady load that leaves the nodes
/// headroom, so that what the report measures is the faults, not saturation.
const PACE: Duration = Duration::from_millis(100);
const MIB: usize = 1 << 20;

/// A value written to a key, as its bytes are recognised: size and 128-bit hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value {
    pub size: usize,
    pub hash: u128,
}

impl Value {
    pub fn new(seed: u64, size: usize) -> (Value, Bytes) {
        let body = body(seed, size);
        (Value { size, hash: xxhash_rust::xxh3::xxh3_128(&body) }, body)
    }
}

pub fn body(seed: u64, size: usize) -> Bytes {
    let mut data = vec![0u8; size];
    StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    Bytes::from(data)
}

/// What a key should hold: `Some(value)`, or `None` for absent (deleted, never written).
pub type State = Option<Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Acked,
    /// Timed out or failed after its retries: it may or may not have happened.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Op {
    pub state: State,
    pub outcome: Outcome,
}

/// One request's result, for the report.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub phase: usize,
    pub endpoint: usize,
    pub ok: bool,
    /// Failed by the client's deadline (no answer), rather than by an error answer.
    pub timed_out: bool,
    pub latency: Duration,
}

/// Everything the workers share with the driver.
pub struct Shared {
    pub phase: AtomicUsize,
    pub stop: AtomicBool,
    pub history: Mutex<BTreeMap<String, Vec<Op>>>,
    pub samples: Mutex<Vec<Sample>>,
    /// Uploads the workload aborted with an acknowledgement, and those it could not abort.
    pub aborted: Mutex<Vec<(String, String)>>,
    pub abort_pending: Mutex<Vec<(String, String)>>,
    /// Reads that returned bytes never written to their key.
    pub violations: Mutex<Vec<String>>,
    pub stale_reads: AtomicUsize,
    log: Mutex<std::io::BufWriter<std::fs::File>>,
}

impl Shared {
    pub fn new(log: &std::path::Path) -> Arc<Shared> {
        Arc::new(Shared {
            phase: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            history: Mutex::default(),
            samples: Mutex::default(),
            aborted: Mutex::default(),
            abort_pending: Mutex::default(),
            violations: Mutex::default(),
            stale_reads: AtomicUsize::new(0),
            log: Mutex::new(std::io::BufWriter::new(
                std::fs::File::create(log).expect("operation log"),
            )),
        })
    }

    fn record(&self, key: &str, state: State, outcome: Outcome) {
        self.history.lock().unwrap().entry(key.to_owned()).or_default().push(Op { state, outcome });
        let mut log = self.log.lock().unwrap();
        let _ = match state {
            Some(v) => writeln!(
                log,
                "{{\"key\":\"{key}\",\"op\":\"put\",\"size\":{},\"xxh3\":\"{:032x}\",\"outcome\":\"{outcome:?}\"}}",
                v.size, v.hash
            ),
            None => {
                writeln!(log, "{{\"key\":\"{key}\",\"op\":\"delete\",\"outcome\":\"{outcome:?}\"}}")
            }
        };
    }

    pub fn flush_log(&self) {
        let _ = self.log.lock().unwrap().flush();
    }

    fn sample(&self, endpoint: usize, ok: bool, timed_out: bool, latency: Duration) {
        let phase = self.phase.load(Ordering::Relaxed);
        self.samples.lock().unwrap().push(Sample { phase, endpoint, ok, timed_out, latency });
    }
}

/// The states a key may hold now, given its history: its last acknowledged state, or any write
/// whose outcome is unknown after it.
pub fn acceptable(ops: &[Op]) -> Vec<State> {
    let last_acked = ops.iter().rposition(|o| o.outcome == Outcome::Acked);
    let mut states = vec![last_acked.and_then(|i| ops[i].state)];
    let after = last_acked.map_or(0, |i| i + 1);
    states.extend(ops[after..].iter().map(|o| o.state));
    states
}

pub fn client(endpoint: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            crate::nodes::ACCESS_KEY_ID,
            crate::nodes::SECRET_ACCESS_KEY,
            None,
            None,
            "chaos",
        ))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// One worker: a client bound to one endpoint, and keys of its own.
pub struct Worker {
    pub id: usize,
    pub endpoint: usize,
    pub s3: aws_sdk_s3::Client,
    pub shared: Arc<Shared>,
    pub rng: StdRng,
    keys: Vec<String>,
    retired: usize,
}

fn now() -> Instant {
    SystemClock.monotonic()
}

impl Worker {
    pub fn new(id: usize, endpoint: usize, url: &str, shared: Arc<Shared>, seed: u64) -> Worker {
        let keys = (0..KEYS_PER_WORKER).map(|k| format!("w{id:02}/k{k:02}-g0")).collect();
        Worker {
            id,
            endpoint,
            s3: client(url),
            shared,
            rng: StdRng::seed_from_u64(seed),
            keys,
            retired: 0,
        }
    }

    pub async fn run(mut self) {
        while !self.shared.stop.load(Ordering::Relaxed) {
            let began = now();
            let slot = self.rng.random_range(0..self.keys.len());
            let key = self.keys[slot].clone();
            let roll = self.rng.random_range(0..100);
            let small = self.rng.random_range(1..64 << 10);
            let medium = self.rng.random_range(MIB / 8..3 * MIB / 2);
            let settled = match roll {
                0..50 => self.put(&key, small).await,
                50..58 => self.put(&key, medium).await,
                58..60 => self.multipart(&key).await,
                60..74 => self.delete(&key).await,
                _ => {
                    self.get(&key).await;
                    true
                }
            };
            if !settled {
                // Retire the key: its last write may still be running on the server.
                self.retired += 1;
                self.keys[slot] = format!("w{:02}/k{slot:02}-g{}", self.id, self.retired);
            }
            let spent = now().saturating_duration_since(began);
            tokio::time::sleep(PACE.saturating_sub(spent)).await;
        }
    }

    /// Runs `attempt` up to `ATTEMPTS` times, each within `timeout`, until one succeeds; its
    /// output, or `None` when none did.
    async fn with_retries<F, Fut, T, E>(&self, timeout: Duration, mut attempt: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        for _ in 0..ATTEMPTS {
            let started = now();
            let result = tokio::time::timeout(timeout, attempt()).await;
            let ok = matches!(result, Ok(Ok(_)));
            let latency = now().saturating_duration_since(started);
            self.shared.sample(self.endpoint, ok, result.is_err(), latency);
            if let Ok(Ok(value)) = result {
                return Some(value);
            }
            if self.shared.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        None
    }

    fn fresh_value(&mut self, size: usize) -> (Value, Bytes) {
        Value::new(self.rng.next_u64(), size)
    }

    async fn put(&mut self, key: &str, size: usize) -> bool {
        let (value, data) = self.fresh_value(size);
        let timeout = if size > MIB { BODY_TIMEOUT } else { SMALL_TIMEOUT };
        let s3 = self.s3.clone();
        let acked = self
            .with_retries(timeout, || {
                s3.put_object().bucket(BUCKET).key(key).body(ByteStream::from(data.clone())).send()
            })
            .await
            .is_some();
        let outcome = if acked { Outcome::Acked } else { Outcome::Unknown };
        self.shared.record(key, Some(value), outcome);
        acked
    }

    async fn delete(&mut self, key: &str) -> bool {
        let s3 = self.s3.clone();
        let acked = self
            .with_retries(SMALL_TIMEOUT, || s3.delete_object().bucket(BUCKET).key(key).send())
            .await
            .is_some();
        self.shared.record(key, None, if acked { Outcome::Acked } else { Outcome::Unknown });
        acked
    }

    /// A 5 MiB part and a short last one; on a completion that never answers, abort as
    /// boto3's `upload_file` does.
    async fn multipart(&mut self, key: &str) -> bool {
        let s3 = self.s3.clone();
        let Some(created) = self
            .with_retries(SMALL_TIMEOUT, || {
                s3.create_multipart_upload().bucket(BUCKET).key(key).send()
            })
            .await
        else {
            // Nothing of the object changed (an upload may exist, with no parts).
            return true;
        };
        let Some(upload_id) = created.upload_id().map(str::to_owned) else { return true };
        let sizes = [5 * MIB, self.rng.random_range(1..MIB)];
        let (value, data) = self.fresh_value(sizes.iter().sum());
        let mut parts = Vec::new();
        let mut offset = 0;
        for (i, size) in sizes.iter().enumerate() {
            let number = i32::try_from(i + 1).unwrap_or(1);
            let chunk = data.slice(offset..offset + size);
            offset += size;
            let uploaded = self
                .with_retries(BODY_TIMEOUT, || {
                    s3.upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(number)
                        .body(ByteStream::from(chunk.clone()))
                        .send()
                })
                .await;
            match uploaded.and_then(|p| p.e_tag().map(str::to_owned)) {
                Some(etag) => {
                    parts.push(CompletedPart::builder().part_number(number).e_tag(etag).build())
                }
                None => {
                    self.abort(key, &upload_id).await;
                    return true;
                }
            }
        }
        let completion = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
        let completed = self
            .with_retries(SMALL_TIMEOUT, || {
                s3.complete_multipart_upload()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(completion.clone())
                    .send()
            })
            .await
            .is_some();
        if completed {
            self.shared.record(key, Some(value), Outcome::Acked);
            return true;
        }
        self.abort(key, &upload_id).await;
        // The completion may have committed the object although no answer came back.
        self.shared.record(key, Some(value), Outcome::Unknown);
        false
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let s3 = self.s3.clone();
        let aborted = self
            .with_retries(SMALL_TIMEOUT, || {
                s3.abort_multipart_upload().bucket(BUCKET).key(key).upload_id(upload_id).send()
            })
            .await
            .is_some();
        let list = if aborted { &self.shared.aborted } else { &self.shared.abort_pending };
        list.lock().unwrap().push((key.to_owned(), upload_id.to_owned()));
    }

    /// Reads a key and checks the bytes against its history.
    async fn get(&self, key: &str) {
        let ops = self.shared.history.lock().unwrap().get(key).cloned().unwrap_or_default();
        let started = now();
        let read = tokio::time::timeout(BODY_TIMEOUT, read(&self.s3, key)).await;
        let ok = matches!(read, Ok(Ok(_)));
        let latency = now().saturating_duration_since(started);
        self.shared.sample(self.endpoint, ok, read.is_err(), latency);
        let Ok(Ok(got)) = read else { return };
        if acceptable(&ops).contains(&got) {
            return;
        }
        if ops.iter().any(|o| o.state == got) || got.is_none() {
            // An older state: a stale replica answered during a fault (allowed under a sloppy
            // quorum; the checks after healing are strict).
            self.shared.stale_reads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.shared.violations.lock().unwrap().push(format!(
                "GET {key} through endpoint {} returned bytes never written to it ({got:?})",
                self.endpoint
            ));
        }
    }
}

/// Writes `count` fresh objects of `size` bytes through `endpoint`, four at a time, recording
/// each as the workload records its writes (so the checks cover them): load that makes every
/// node's store grow, as a full disk must be met by writes, not by free pages inside the file.
pub async fn burst(shared: Arc<Shared>, url: String, endpoint: usize, count: usize, size: usize) {
    use futures_util::StreamExt;
    let s3 = client(&url);
    futures_util::stream::iter(0..count)
        .for_each_concurrent(4, |i| {
            let (s3, shared) = (s3.clone(), shared.clone());
            async move {
                let key = format!("burst/{endpoint}-{i:04}");
                let (value, data) = Value::new(0xb0_0000 + i as u64, size);
                let started = now();
                let put = s3.put_object().bucket(BUCKET).key(&key).body(ByteStream::from(data));
                let result = tokio::time::timeout(BODY_TIMEOUT * 2, put.send()).await;
                let ok = matches!(result, Ok(Ok(_)));
                let latency = now().saturating_duration_since(started);
                shared.sample(endpoint, ok, result.is_err(), latency);
                shared.record(
                    &key,
                    Some(value),
                    if ok { Outcome::Acked } else { Outcome::Unknown },
                );
            }
        })
        .await;
}

/// Reads `key`: `Ok(None)` for 404, `Ok(Some(value))` with the hash of the bytes read.
pub async fn read(s3: &aws_sdk_s3::Client, key: &str) -> Result<State, String> {
    match s3.get_object().bucket(BUCKET).key(key).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
            let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
            Ok(Some(Value { size: bytes.len(), hash }))
        }
        Err(e) => {
            let e = e.into_service_error();
            if e.is_no_such_key() { Ok(None) } else { Err(format!("{e:?}")) }
        }
    }
}

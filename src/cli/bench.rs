//! `ringvault bench`: the load generator's command line — flags to a `loadgen::Plan`, a
//! progress bar on stderr while it runs, the report on stdout (a table, or JSON).

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use ringvault::clock::{SharedClock, SystemClock};
use ringvault::loadgen::{self, Mix, ObjectSize, Op, Phase, Plan, Progress, Stop, Target};

/// The mix of `mixed` unless --mix says otherwise (the proportions warp uses).
const DEFAULT_MIX: &str = "get=45,head=30,put=15,delete=10";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// What to measure: put, get, head, delete, list, multipart, or mixed (see --mix).
    #[arg(value_parser = ["put", "get", "head", "delete", "list", "multipart", "mixed"])]
    workload: String,
    /// S3 endpoint; repeat (or separate by commas) to spread the workers over several.
    #[arg(
        long = "endpoint",
        value_name = "URL",
        env = "RINGVAULT_BENCH_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:9000"
    )]
    endpoints: Vec<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Bucket to work in; created when it does not exist.
    #[arg(long, default_value = "ringvault-bench")]
    bucket: String,
    /// Key prefix of everything the run writes [default: rvbench-<random>].
    #[arg(long)]
    prefix: Option<String>,
    /// Object size (4KiB, 1MiB, 1GiB, ...) or a range MIN..MAX drawn uniformly.
    #[arg(long, default_value = "4KiB")]
    size: ObjectSize,
    /// Part size of `multipart` uploads.
    #[arg(long, default_value = "16MiB", value_parser = loadgen::parse_bytes)]
    part_size: u64,
    /// Requests in flight at once (one worker each).
    #[arg(short, long, default_value_t = 16)]
    concurrency: usize,
    /// How long the measured phase lasts (10s, 2m, ...).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, conflicts_with = "count")]
    duration: Duration,
    /// Stop after this many operations instead of after --duration.
    #[arg(long)]
    count: Option<u64>,
    /// Objects written before measuring get, head, delete, list and mixed [default: 1000, or
    /// as many as fit in 1 GiB but at least one per worker; for delete, --count or 10000].
    #[arg(long)]
    objects: Option<u64>,
    /// Spread the objects over this many "directories" (<prefix>/dNNNNNN/).
    #[arg(long, default_value_t = 0)]
    directories: u64,
    /// `list` with delimiter "/": one entry per directory instead of every key.
    #[arg(long)]
    delimiter: bool,
    /// Weights of `mixed`, e.g. get=45,head=30,put=15,delete=10.
    #[arg(long, default_value = DEFAULT_MIX)]
    mix: Mix,
    /// The objects exist already under --prefix (written by a run with --keep): skip writing.
    #[arg(long, requires = "prefix")]
    reuse: bool,
    /// Leave the objects the run wrote in place instead of deleting them afterwards.
    #[arg(long)]
    keep: bool,
    /// Longest one request may take before it counts as an error.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl BenchArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        let mix = match self.workload.as_str() {
            "mixed" => self.mix.clone(),
            op => Mix::only(op.parse::<Op>().map_err(anyhow::Error::msg)?),
        };
        let stop = match self.count {
            Some(n) => Stop::Count(n),
            None => Stop::After(self.duration),
        };
        let objects = self.objects.unwrap_or_else(|| {
            loadgen::default_objects(&self.workload, self.size, self.concurrency, self.count)
        });
        let prefix = self
            .prefix
            .clone()
            .unwrap_or_else(|| format!("rvbench-{:08x}", StdRng::from_os_rng().next_u32()));
        let targets = self
            .endpoints
            .iter()
            .map(|endpoint| Target {
                endpoint: endpoint.clone(),
                access_key_id: self.access_key_id.clone(),
                secret_access_key: self.secret_access_key.clone(),
                region: self.region.clone(),
            })
            .collect();
        Ok(Plan {
            name: self.workload.clone(),
            mix,
            targets,
            bucket: self.bucket.clone(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            size: self.size,
            part_size: self.part_size,
            concurrency: self.concurrency,
            stop,
            objects,
            directories: self.directories,
            delimiter: self.delimiter,
            reuse: self.reuse,
            keep: self.keep,
            timeout: self.timeout,
        })
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let plan = args.plan()?;
    plan.check().map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let clock: SharedClock = Arc::new(SystemClock);
        let progress = Arc::new(Progress::default());
        let display = tokio::spawn(show_progress(Arc::clone(&progress), plan.stop));
        let interrupt = {
            let progress = Arc::clone(&progress);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    progress.cancel();
                }
            })
        };
        let report = loadgen::run(plan, clock, Arc::clone(&progress)).await;
        interrupt.abort();
        display.abort();
        let _ = display.await;
        report
    })?;
    let text = match args.json {
        true => serde_json::to_string_pretty(&report).context("rendering the report")? + "\n",
        false => report.to_text(),
    };
    // A closed stdout (the reader of a pipe gave up) is an error to report, not a panic.
    std::io::stdout().lock().write_all(text.as_bytes()).context("writing the report")?;
    anyhow::ensure!(report.total_errors == 0, "{} operations failed", report.total_errors);
    Ok(())
}

/// Redraws a progress bar on stderr (only when it is a terminal) until aborted.
async fn show_progress(progress: Arc<Progress>, stop: Stop) {
    let bar = ProgressBar::new(0);
    struct ClearOnDrop(ProgressBar);
    impl Drop for ClearOnDrop {
        fn drop(&mut self) {
            self.0.finish_and_clear();
        }
    }
    let bar = ClearOnDrop(bar);
    let mut shown = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    let mut last = (0u64, 0u64);
    let mut tick = 0u64;
    loop {
        ticker.tick().await;
        tick += 1;
        let phase = progress.phase();
        let done = progress.done.load(Ordering::Acquire);
        if shown != Some(phase) {
            shown = Some(phase);
            let (name, length) = match phase {
                Phase::Prepare => ("prepare", progress.total.load(Ordering::Acquire)),
                Phase::Run => match stop {
                    Stop::Count(n) => ("run", n),
                    Stop::After(d) => ("run", d.as_millis() as u64 / 200),
                },
                Phase::Clean => ("clean", 0),
            };
            let template = if length == 0 {
                format!("{name:>8} {{spinner}} {{pos}} objects {{msg}}")
            } else {
                format!("{name:>8} [{{bar:40}}] {{pos}}/{{len}} {{msg}}")
            };
            bar.0.set_style(
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.0.set_length(length);
            bar.0.set_position(0);
            tick = 0;
            last = (done, progress.bytes.load(Ordering::Acquire));
        }
        let bytes = progress.bytes.load(Ordering::Acquire);
        let errors = progress.errors.load(Ordering::Acquire);
        let (ops_per_sec, mb_per_sec) =
            ((done - last.0.min(done)) * 5, (bytes - last.1.min(bytes)) as f64 * 5.0 / 1e6);
        last = (done, bytes);
        let position = match (phase, stop) {
            (Phase::Run, Stop::After(_)) => tick,
            _ => done,
        };
        bar.0.set_position(position);
        bar.0.set_message(format!("{ops_per_sec} ops/s {mb_per_sec:.1} MB/s {errors} errors"));
    }
}

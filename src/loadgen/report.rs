//! What a run measured: per operation, counts, rates and a latency histogram (HdrHistogram,
//! microseconds, 3 significant digits), merged from every worker at the end and printed as a
//! table or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::Op;

/// Slowest latency a histogram records exactly (longer ones are clamped to it): one hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// One worker's (or, merged, the run's) measurements of one operation.
#[derive(Debug, Clone)]
pub struct OpStats {
    latency_us: Histogram<u64>,
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Keys and common prefixes listed (LIST only).
    pub entries: u64,
    pub first_error: Option<String>,
}

impl Default for OpStats {
    fn default() -> Self {
        Self {
            latency_us: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .expect("static histogram bounds are valid"),
            ops: 0,
            errors: 0,
            bytes: 0,
            entries: 0,
            first_error: None,
        }
    }
}

impl OpStats {
    pub fn success(&mut self, latency: Duration, bytes: u64, entries: u64) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, LATENCY_MAX_US);
        self.latency_us.saturating_record(us);
        self.ops += 1;
        self.bytes += bytes;
        self.entries += entries;
    }

    pub fn failure(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }

    pub fn merge(&mut self, other: &OpStats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.ops += other.ops;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.entries += other.entries;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

#[derive(Debug, Serialize)]
pub struct LatencyMs {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The figures of one operation over the measured phase.
#[derive(Debug, Serialize)]
pub struct OpReport {
    pub op: Op,
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub ops_per_sec: f64,
    /// Decimal megabytes (10^6 bytes) of object data per second, either direction.
    pub mb_per_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_per_sec: Option<f64>,
    pub latency_ms: LatencyMs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub workload: String,
    pub endpoints: Vec<String>,
    pub bucket: String,
    pub concurrency: usize,
    pub object_size: String,
    pub seconds: f64,
    pub operations: Vec<OpReport>,
    pub total_ops_per_sec: f64,
    pub total_mb_per_sec: f64,
    pub total_errors: u64,
    /// What became of the objects the run wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<String>,
}

/// What `Report::new` needs to know of the run besides the measurements.
pub struct RunFacts {
    pub workload: String,
    pub endpoints: Vec<String>,
    pub bucket: String,
    pub concurrency: usize,
    pub object_size: String,
    pub elapsed: Duration,
}

impl Report {
    pub fn new(facts: RunFacts, stats: &BTreeMap<Op, OpStats>) -> Self {
        let seconds = facts.elapsed.as_secs_f64().max(1e-9);
        let operations: Vec<OpReport> = stats
            .iter()
            .map(|(&op, s)| OpReport {
                op,
                ops: s.ops,
                errors: s.errors,
                bytes: s.bytes,
                ops_per_sec: s.ops as f64 / seconds,
                mb_per_sec: s.bytes as f64 / seconds / 1e6,
                entries_per_sec: (op == Op::List).then(|| s.entries as f64 / seconds),
                latency_ms: LatencyMs {
                    mean: if s.latency_us.is_empty() { 0.0 } else { s.latency_us.mean() / 1000.0 },
                    p50: s.quantile_ms(0.50),
                    p90: s.quantile_ms(0.90),
                    p99: s.quantile_ms(0.99),
                    max: s.latency_us.max() as f64 / 1000.0,
                },
                first_error: s.first_error.clone(),
            })
            .collect();
        Self {
            workload: facts.workload,
            endpoints: facts.endpoints,
            bucket: facts.bucket,
            concurrency: facts.concurrency,
            object_size: facts.object_size,
            seconds,
            total_ops_per_sec: operations.iter().map(|o| o.ops_per_sec).sum(),
            total_mb_per_sec: operations.iter().map(|o| o.mb_per_sec).sum(),
            total_errors: operations.iter().map(|o| o.errors).sum(),
            operations,
            cleanup: None,
        }
    }

    /// The table people read.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on {} ({}), bucket {}, {} workers, objects {}, {:.1} s",
            self.workload,
            self.endpoints.join(", "),
            if self.endpoints.len() == 1 { "1 endpoint" } else { "endpoints in turn" },
            self.bucket,
            self.concurrency,
            self.object_size,
            self.seconds
        );
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>7} {:>11} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}",
            "op",
            "ops",
            "errors",
            "ops/s",
            "MB/s",
            "entries/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms"
        );
        for o in &self.operations {
            let entries = o.entries_per_sec.map_or_else(|| "-".to_owned(), |e| format!("{e:.0}"));
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>7} {:>11.1} {:>9.1} {:>11} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                o.op.name(),
                o.ops,
                o.errors,
                o.ops_per_sec,
                o.mb_per_sec,
                entries,
                o.latency_ms.p50,
                o.latency_ms.p90,
                o.latency_ms.p99,
                o.latency_ms.max
            );
        }
        if self.operations.len() > 1 {
            let _ = writeln!(
                out,
                "{:<10} {:>9} {:>7} {:>11.1} {:>9.1}",
                "total",
                self.operations.iter().map(|o| o.ops).sum::<u64>(),
                self.total_errors,
                self.total_ops_per_sec,
                self.total_mb_per_sec
            );
        }
        for o in self.operations.iter().filter(|o| o.errors > 0) {
            let first = o.first_error.as_deref().unwrap_or("");
            let _ = writeln!(out, "{} errors: {} (first: {first})", o.op.name(), o.errors);
        }
        if let Some(cleanup) = &self.cleanup {
            let _ = writeln!(out, "{cleanup}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stats_give_rates_over_the_phase_and_latency_quantiles() {
        let mut a = OpStats::default();
        let mut b = OpStats::default();
        for ms in 1..=90 {
            a.success(Duration::from_millis(ms), 1_000_000, 0);
        }
        for ms in 91..=100 {
            b.success(Duration::from_millis(ms), 1_000_000, 0);
        }
        b.failure("HTTP 503 SlowDown".into());
        b.failure("HTTP 500 InternalError".into());
        a.merge(&b);
        let stats = BTreeMap::from([(Op::Put, a)]);
        let facts = RunFacts {
            workload: "put".into(),
            endpoints: vec!["http://127.0.0.1:9000".into()],
            bucket: "b".into(),
            concurrency: 4,
            object_size: "1 MB".into(),
            elapsed: Duration::from_secs(10),
        };
        let report = Report::new(facts, &stats);
        let put = &report.operations[0];
        assert_eq!((put.ops, put.errors), (100, 2));
        assert!((put.ops_per_sec - 10.0).abs() < 1e-9);
        assert!((put.mb_per_sec - 10.0).abs() < 1e-9);
        assert!((put.latency_ms.p50 - 50.0).abs() < 0.1, "{}", put.latency_ms.p50);
        assert!((put.latency_ms.p99 - 99.0).abs() < 0.1, "{}", put.latency_ms.p99);
        assert!((put.latency_ms.max - 100.0).abs() < 0.1);
        assert_eq!(put.first_error.as_deref(), Some("HTTP 503 SlowDown"));
        let text = report.to_text();
        assert!(text.contains("put errors: 2 (first: HTTP 503 SlowDown)"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["operations"][0]["op"], "put");
        assert_eq!(json["operations"][0]["ops"], 100);
    }
}

//! Prometheus metrics of one node, in the OpenMetrics text format (`GET /metrics` on the admin
//! listener). The S3 front end counts requests and their latency as they finish; the cluster
//! gauges (hints held, layout, nodes up, partitions owned) are read from the node's state at
//! each scrape, so they are never stale. This module depends on nothing else in the crate:
//! callers hand it plain numbers.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The content type of `Metrics::render`'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OwnerLabels {
    owner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// What the cluster looks like from this node at scrape time.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    /// Hints this node holds, per owner (node id in hex).
    pub hints: Vec<(String, u64)>,
    pub layout_version: u64,
    pub layout_members: u64,
    /// Layout members this node believes reachable (itself included).
    pub members_up: u64,
    /// Partitions whose preference list includes this node.
    pub partitions_owned: u64,
    pub replication_factor: u64,
    pub read_quorum: u64,
    pub write_quorum: u64,
    /// Read repairs queued since start, and those dropped because the queue was full.
    pub read_repairs_queued: u64,
    pub read_repairs_dropped: u64,
    /// Bounded task sets: `(name, running now, bound)` (detached requests, copies past W).
    pub task_sets: Vec<(&'static str, u64, u64)>,
    /// Anti-entropy, `(kind, value)`: totals since start and the current pass's progress.
    pub anti_entropy: Vec<(&'static str, u64)>,
    /// Scrubbing, likewise.
    pub scrub: Vec<(&'static str, u64)>,
    /// The rebalance, likewise.
    pub rebalance: Vec<(&'static str, u64)>,
    /// Garbage collection, `(kind, value)`.
    pub gc: Vec<(&'static str, u64)>,
    /// Lifecycle passes, `(kind, value)`: totals since start and the current pass.
    pub lifecycle: Vec<(&'static str, u64)>,
}

/// The node's metrics; cheap to clone, shared by the S3 front end and the admin API.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    s3_requests: Family<RequestLabels, Counter>,
    s3_duration: Family<OperationLabels, Histogram>,
    hints: Family<OwnerLabels, Gauge>,
    hints_total: Gauge,
    layout_version: Gauge,
    members: Family<StateLabels, Gauge>,
    partitions_owned: Gauge,
    quorum: Family<KindLabels, Gauge>,
    read_repairs: Family<KindLabels, Gauge>,
    tasks: Family<KindLabels, Gauge>,
    tasks_max: Family<KindLabels, Gauge>,
    anti_entropy: Family<KindLabels, Gauge>,
    scrub: Family<KindLabels, Gauge>,
    rebalance: Family<KindLabels, Gauge>,
    gc: Family<KindLabels, Gauge>,
    lifecycle: Family<KindLabels, Gauge>,
    /// Scrapes fill the gauges and encode them as one step.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ringvault");
        let s3_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "s3_requests",
            "S3 requests answered, by operation and HTTP status",
            s3_requests.clone(),
        );
        let s3_duration = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "s3_request_duration",
            "Time from a request's arrival to its response head, by operation",
            Unit::Seconds,
            s3_duration.clone(),
        );
        let hints = Family::<OwnerLabels, Gauge>::default();
        registry.register(
            "hints_pending",
            "Hinted writes this node holds for an owner that missed them (hand-off queue depth)",
            hints.clone(),
        );
        let hints_total = Gauge::default();
        registry.register(
            "hints_pending_all",
            "Hinted writes this node holds for all owners",
            hints_total.clone(),
        );
        let layout_version = Gauge::default();
        registry.register(
            "layout_version",
            "Version of the layout this node runs",
            layout_version.clone(),
        );
        let members = Family::<StateLabels, Gauge>::default();
        registry.register(
            "layout_members",
            "Members of the layout by state as this node sees them (up, down)",
            members.clone(),
        );
        let partitions_owned = Gauge::default();
        registry.register(
            "partitions_owned",
            "Partitions whose preference list includes this node",
            partitions_owned.clone(),
        );
        let quorum = Family::<KindLabels, Gauge>::default();
        registry.register("quorum", "N, R and W in force (kind = n, r, w)", quorum.clone());
        let read_repairs = Family::<KindLabels, Gauge>::default();
        registry.register(
            "read_repairs",
            "Read repairs since start: queued, and dropped because the queue was full",
            read_repairs.clone(),
        );
        let tasks = Family::<KindLabels, Gauge>::default();
        registry.register(
            "tasks",
            "Tasks running in each bounded set (kind = requests: mutating requests detached from \
             their connections; copies: copies past the write quorum)",
            tasks.clone(),
        );
        let tasks_max = Family::<KindLabels, Gauge>::default();
        registry.register("tasks_max", "The bound of each task set", tasks_max.clone());
        let anti_entropy = Family::<KindLabels, Gauge>::default();
        registry.register(
            "anti_entropy",
            "Anti-entropy since start (partitions_compared, partitions_repaired, items_moved, \
             blocks_moved, bytes_moved) and the current or last pass (running, pass_partitions, \
             pass_partitions_done, pass_eta_seconds)",
            anti_entropy.clone(),
        );
        let scrub = Family::<KindLabels, Gauge>::default();
        registry.register(
            "scrub",
            "Block checks since start (blocks_checked, corrupt, repaired from another node, \
             restored_on_read) and the current or last pass (running, pass_blocks_checked)",
            scrub.clone(),
        );
        let rebalance = Family::<KindLabels, Gauge>::default();
        registry.register(
            "rebalance",
            "Partitions gained in layout changes (partitions_pending, partitions_pulled) and what \
             their pulls moved since start (items_pulled, blocks_pulled, bytes_pulled, eta_seconds)",
            rebalance.clone(),
        );
        let gc = Family::<KindLabels, Gauge>::default();
        registry.register(
            "gc",
            "Garbage collection: tombstones held now, tombstones purged from every member and \
             purge rounds postponed since start, bodies reclaimed since start",
            gc.clone(),
        );
        let lifecycle = Family::<KindLabels, Gauge>::default();
        registry.register(
            "lifecycle",
            "Lifecycle rules applied on this node: passes, buckets, expired objects, delete \
             markers and noncurrent versions removed, uploads aborted, deletions skipped (locked \
             or failed) since start; the current pass (running, pass_buckets_done)",
            lifecycle.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                s3_requests,
                s3_duration,
                hints,
                hints_total,
                layout_version,
                members,
                partitions_owned,
                quorum,
                read_repairs,
                tasks,
                tasks_max,
                anti_entropy,
                scrub,
                rebalance,
                gc,
                lifecycle,
                scrape: Mutex::new(()),
            }),
        }
    }

    /// Counts one S3 request answered with `status` after `seconds`.
    pub fn observe_s3_request(&self, operation: &'static str, status: u16, seconds: f64) {
        self.inner.s3_requests.get_or_create(&RequestLabels { operation, status }).inc();
        self.inner.s3_duration.get_or_create(&OperationLabels { operation }).observe(seconds);
    }

    /// Every metric, with the cluster gauges set from `cluster`, in the OpenMetrics text format.
    pub fn render(&self, cluster: &ClusterSnapshot) -> String {
        let inner = &self.inner;
        let _scrape = inner.scrape.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Owners whose hints were all handed off disappear instead of staying at zero.
        inner.hints.clear();
        for (owner, count) in &cluster.hints {
            inner.hints.get_or_create(&OwnerLabels { owner: owner.clone() }).set(gauge(*count));
        }
        inner.hints_total.set(gauge(cluster.hints.iter().map(|(_, n)| n).sum()));
        inner.layout_version.set(gauge(cluster.layout_version));
        let down = cluster.layout_members.saturating_sub(cluster.members_up);
        for (state, value) in [("up", cluster.members_up), ("down", down)] {
            inner.members.get_or_create(&StateLabels { state }).set(gauge(value));
        }
        inner.partitions_owned.set(gauge(cluster.partitions_owned));
        for (kind, value) in [
            ("n", cluster.replication_factor),
            ("r", cluster.read_quorum),
            ("w", cluster.write_quorum),
        ] {
            inner.quorum.get_or_create(&KindLabels { kind }).set(gauge(value));
        }
        for (kind, value) in
            [("queued", cluster.read_repairs_queued), ("dropped", cluster.read_repairs_dropped)]
        {
            inner.read_repairs.get_or_create(&KindLabels { kind }).set(gauge(value));
        }
        for (kind, running, bound) in &cluster.task_sets {
            inner.tasks.get_or_create(&KindLabels { kind }).set(gauge(*running));
            inner.tasks_max.get_or_create(&KindLabels { kind }).set(gauge(*bound));
        }
        for (kind, value) in &cluster.anti_entropy {
            inner.anti_entropy.get_or_create(&KindLabels { kind }).set(gauge(*value));
        }
        for (kind, value) in &cluster.scrub {
            inner.scrub.get_or_create(&KindLabels { kind }).set(gauge(*value));
        }
        for (kind, value) in &cluster.rebalance {
            inner.rebalance.get_or_create(&KindLabels { kind }).set(gauge(*value));
        }
        for (kind, value) in &cluster.lifecycle {
            inner.lifecycle.get_or_create(&KindLabels { kind }).set(gauge(*value));
        }
        for (kind, value) in &cluster.gc {
            inner.gc.get_or_create(&KindLabels { kind }).set(gauge(*value));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &inner.registry);
        out
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn renders_requests_latency_and_cluster_gauges() {
        let metrics = Metrics::new();
        metrics.observe_s3_request("PutObject", 200, 0.003);
        metrics.observe_s3_request("PutObject", 200, 0.004);
        metrics.observe_s3_request("GetObject", 404, 0.001);
        let snapshot = ClusterSnapshot {
            hints: vec![("00000000000000aa".into(), 7), ("00000000000000bb".into(), 2)],
            layout_version: 3,
            layout_members: 3,
            members_up: 2,
            partitions_owned: 256,
            replication_factor: 3,
            read_quorum: 2,
            write_quorum: 2,
            read_repairs_queued: 5,
            read_repairs_dropped: 1,
            task_sets: vec![("requests", 3, 1024), ("copies", 0, 256)],
            anti_entropy: vec![("items_moved", 12), ("running", 1)],
            scrub: vec![("corrupt", 1)],
            rebalance: vec![("partitions_pending", 4)],
            gc: vec![("tombstones", 6)],
            lifecycle: vec![("expired", 4)],
        };
        let text = metrics.render(&snapshot);
        for line in [
            r#"ringvault_s3_requests_total{operation="PutObject",status="200"} 2"#,
            r#"ringvault_s3_requests_total{operation="GetObject",status="404"} 1"#,
            r#"ringvault_s3_request_duration_seconds_count{operation="PutObject"} 2"#,
            r#"ringvault_hints_pending{owner="00000000000000aa"} 7"#,
            "ringvault_hints_pending_all 9",
            "ringvault_layout_version 3",
            r#"ringvault_layout_members{state="down"} 1"#,
            "ringvault_partitions_owned 256",
            r#"ringvault_quorum{kind="w"} 2"#,
            r#"ringvault_read_repairs{kind="dropped"} 1"#,
            r#"ringvault_tasks{kind="requests"} 3"#,
            r#"ringvault_tasks_max{kind="copies"} 256"#,
            r#"ringvault_anti_entropy{kind="items_moved"} 12"#,
            r#"ringvault_scrub{kind="corrupt"} 1"#,
            r#"ringvault_rebalance{kind="partitions_pending"} 4"#,
            r#"ringvault_gc{kind="tombstones"} 6"#,
            r#"ringvault_lifecycle{kind="expired"} 4"#,
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        // Once the hints are handed off, the owner's series goes away.
        let drained = ClusterSnapshot { hints: Vec::new(), ..snapshot };
        let text = metrics.render(&drained);
        assert!(!text.contains("00000000000000aa"), "{text}");
        assert!(text.lines().any(|l| l == "ringvault_hints_pending_all 0"), "{text}");
    }

    /// Goal: the Grafana dashboard in docker/grafana queries only series this registry encodes, with
    /// labels those series carry. Method: encode a registry with a sample in every family, list
    /// the series names the `# TYPE` lines allow and the labels of each, then check every selector in
    /// every panel query and variable query against them.
    #[test]
    fn the_grafana_dashboard_queries_only_metrics_the_node_exports() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../docker/grafana/ringvault.json")).unwrap();
        let exported = exported_series(&every_family_rendered());
        let mut queries = Vec::new();
        for panel in dashboard_panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                queries.push(target["expr"].as_str().unwrap().to_owned());
            }
        }
        let variable_queries = dashboard["templating"]["list"].as_array().unwrap().iter();
        let variable_queries: Vec<String> = variable_queries
            .filter(|v| v["type"] == "query")
            .map(|v| v["query"]["query"].as_str().or(v["query"].as_str()).unwrap().to_owned())
            .collect();
        let mut unknown = Vec::new();
        for query in queries.iter().chain(&variable_queries) {
            for (name, matchers) in selectors(query) {
                let Some(labels) = exported.get(name) else {
                    unknown.push(format!("{name} in {query}"));
                    continue;
                };
                for label in matchers.iter().map(|m| m.split(['=', '!']).next().unwrap().trim()) {
                    let scrape_label = label == "instance" || label == "job";
                    if !scrape_label && !labels.contains(label) {
                        unknown.push(format!("label {label} of {name} in {query}"));
                    }
                }
            }
        }
        assert!(unknown.is_empty(), "the node exports no such series:\n{}", unknown.join("\n"));
        // Every panel query follows the instance picker, and names at least one series.
        for query in &queries {
            let selectors = selectors(query);
            assert!(!selectors.is_empty(), "{query}");
            for (name, matchers) in selectors {
                assert!(matchers.contains(&r#"instance=~"$instance""#), "{name} in {query}");
            }
        }
    }

    /// The dashboard imports anywhere: every panel and query reads the `datasource` variable,
    /// not a datasource uid of the exporting Grafana, and no row is left empty.
    #[test]
    fn the_grafana_dashboard_reads_the_datasource_variable_and_fills_every_row() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../docker/grafana/ringvault.json")).unwrap();
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        let variable = |name: &str| variables.iter().find(|v| v["name"] == name).unwrap();
        assert_eq!(variable("datasource")["type"], "datasource");
        assert_eq!(variable("datasource")["query"], "prometheus");
        assert_eq!(variable("instance")["multi"], true);
        assert_eq!(variable("instance")["includeAll"], true);
        // An expanded row is followed by its panels at the top level; a collapsed one holds them.
        let mut rows: Vec<(String, usize)> = Vec::new();
        for panel in dashboard["panels"].as_array().unwrap() {
            if panel["type"] == "row" {
                let nested = panel["panels"].as_array().map_or(0, Vec::len);
                rows.push((panel["title"].as_str().unwrap().to_owned(), nested));
            } else {
                rows.last_mut().expect("every panel sits in a row").1 += 1;
            }
        }
        assert!(rows.len() >= 5, "{rows:?}");
        assert!(rows.iter().all(|(_, panels)| *panels > 0), "an empty row: {rows:?}");
        let datasource = serde_json::json!({ "type": "prometheus", "uid": "${datasource}" });
        for panel in dashboard_panels(&dashboard).filter(|p| p["type"] != "row") {
            assert_eq!(panel["datasource"], datasource, "{}", panel["title"]);
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{}", panel["title"]);
            for target in targets {
                assert_eq!(target["datasource"], datasource, "{}", panel["title"]);
            }
        }
    }

    /// The registry's text with a sample in every labelled family, so that each family appears.
    fn every_family_rendered() -> String {
        let metrics = Metrics::new();
        metrics.observe_s3_request("GetObject", 200, 0.002);
        let pair = |kind| vec![(kind, 1)];
        metrics.render(&ClusterSnapshot {
            hints: vec![("00000000000000aa".into(), 1)],
            layout_members: 3,
            members_up: 2,
            task_sets: vec![("requests", 1, 8)],
            anti_entropy: pair("running"),
            scrub: pair("running"),
            rebalance: pair("partitions_pending"),
            gc: pair("tombstones"),
            lifecycle: pair("running"),
            ..ClusterSnapshot::default()
        })
    }

    /// Series names the `# TYPE` lines allow (counters `_total`; histograms `_bucket`, `_sum`,
    /// `_count`), each with the label names its samples carry.
    fn exported_series(text: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut series = BTreeMap::new();
        for line in text.lines() {
            if let Some(family) = line.strip_prefix("# TYPE ") {
                let (family, kind) = family.split_once(' ').unwrap();
                let suffixes: &[&str] = match kind {
                    "counter" => &["_total"],
                    "histogram" => &["_bucket", "_sum", "_count"],
                    "gauge" => &[""],
                    other => panic!("no suffix rule for {other} families"),
                };
                for suffix in suffixes {
                    series.insert(format!("{family}{suffix}"), BTreeSet::new());
                }
            } else if !line.starts_with('#') {
                let (name, rest) = line.split_at(line.find(['{', ' ']).unwrap());
                let labels = rest.strip_prefix('{').and_then(|r| r.split_once('}'));
                let labels = labels.map_or("", |(labels, _)| labels).split(',');
                let names = labels.filter_map(|l| l.split_once('=')).map(|(n, _)| n.to_owned());
                series.get_mut(name).expect("a sample of a declared family").extend(names);
            }
        }
        series
    }

    /// Every panel, those inside collapsed rows included.
    fn dashboard_panels(dashboard: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
        let top = dashboard["panels"].as_array().unwrap().iter();
        top.flat_map(|p| std::iter::once(p).chain(p["panels"].as_array().into_iter().flatten()))
    }

    /// Each `ringvault_*` series a PromQL query names, with the matchers between its braces.
    fn selectors(query: &str) -> Vec<(&str, Vec<&str>)> {
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
        let mut found = Vec::new();
        for (start, _) in query.match_indices("ringvault_") {
            if query[..start].ends_with(is_name) {
                continue;
            }
            let rest = &query[start..];
            let name = &rest[..rest.find(|c| !is_name(c)).unwrap_or(rest.len())];
            let after = rest[name.len()..].trim_start();
            let braces = after.strip_prefix('{').map_or("", |b| &b[..b.find('}').unwrap()]);
            let matchers = braces.split(',').map(str::trim).filter(|m| !m.is_empty());
            found.push((name, matchers.collect()));
        }
        found
    }
}

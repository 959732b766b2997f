//! Tidy checks on the source tree: the layer rules of ARCHITECTURE.md, the file-size cap and
//! names. Goal: keep the layering enforced by a test, not by memory. Method: read every source
//! file and check which `crate::` modules and external crates it names.

use std::path::{Path, PathBuf};

/// Which top-level modules each module may use (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("causality", &[]),
    ("consensus", &[]),
    ("clock", &[]),
    ("config", &[]),
    ("telemetry", &[]),
    ("metrics", &[]),
    ("tasks", &[]),
    // The load generator is a client of any S3 server: it uses nothing of this one.
    ("loadgen", &["clock"]),
    ("store", &["causality", "consensus", "clock"]),
    ("rpc", &["clock"]),
    ("ring", &["rpc", "store", "clock"]),
    ("coordinator", &["ring", "rpc", "store", "causality", "consensus", "clock", "tasks"]),
    ("objects", &["coordinator", "causality", "clock", "store", "tasks"]),
    ("access", &["objects"]),
    ("s3", &["access", "objects", "clock", "config", "metrics", "tasks"]),
    ("admin", &["access", "objects", "clock", "config", "ring", "coordinator", "metrics", "tasks"]),
    ("cluster", &["causality", "clock", "config", "coordinator", "ring", "rpc", "store", "tasks"]),
    (
        "node",
        &[
            "access",
            "admin",
            "causality",
            "cluster",
            "clock",
            "config",
            "coordinator",
            "metrics",
            "objects",
            "ring",
            "rpc",
            "s3",
            "store",
            "tasks",
            "telemetry",
        ],
    ),
];

/// External crates only some modules may name.
/// `loadgen` is the other end of the wire: an S3 client (`ringvault bench`) that signs, sends and
/// parses requests itself, sharing no code with the server it measures.
const EXCLUSIVE_CRATES: &[(&str, &[&str])] = &[
    ("redb", &["store"]),
    ("hyper", &["s3", "admin", "loadgen"]),
    ("hyper_util", &["s3", "admin", "loadgen"]),
    ("quick_xml", &["s3", "loadgen"]),
    ("aws_sigv4", &["s3", "loadgen"]),
    ("prometheus_client", &["metrics"]),
];

const LINES_MAX: usize = 800;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level module a file under src/ belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_start).filter(|l| !l.starts_with("//"))
}

#[test]
fn layers_only_import_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for file in rust_files(&src) {
        let module = module_of(&src, &file);
        if module == "main" || module == "lib" || module == "cli" {
            continue;
        }
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| panic!("module {module} is missing from the ALLOWED table"))
            .1;
        let text = std::fs::read_to_string(&file).unwrap();
        for line in code_lines(&text) {
            for (other, _) in ALLOWED {
                let named = line.contains(&format!("crate::{other}::"))
                    || line.contains(&format!("crate::{other};"))
                    || line.contains(&format!("crate::{other}}}"));
                if named && *other != module && !allowed.contains(other) {
                    violations.push(format!("{}: {module} uses {other}: {line}", file.display()));
                }
            }
            for (krate, owners) in EXCLUSIVE_CRATES {
                let named = line.contains(&format!("{krate}::"))
                    || line.starts_with(&format!("use {krate}"));
                if named && !owners.contains(&module.as_str()) {
                    violations.push(format!("{}: {module} names {krate}: {line}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));
}

#[test]
fn files_stay_under_the_size_cap_and_have_honest_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        let dir = root.join(dir);
        if !dir.exists() {
            continue;
        }
        for file in rust_files(&dir) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > LINES_MAX {
                problems.push(format!("{} has {lines} lines (cap {LINES_MAX})", file.display()));
            }
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            if ["utils", "util", "helpers", "misc"].contains(&stem.as_str()) {
                problems.push(format!("{}: name says nothing about what it holds", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_lists_every_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let module = line.trim_end_matches(';');
        assert!(ALLOWED.iter().any(|(m, _)| *m == module), "{module} has no row in ALLOWED");
    }
}

//! The `ringvault` binary: runs a node (`server`, the default), or manages a running node's
//! keys and buckets through its admin API (`key ...`, `bucket ...`).
//!
//! Admin commands print text for people, or `--json` for scripts; a failure is one line on
//! stderr and exit status 1 (usage errors are clap's, status 2).

mod cli;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use ringvault::admin::api::{
    BucketDetail, CreateKeyRequest, ExplainRequest, GrantRequest, ImportKeyRequest, KeyDetail,
    KeySummary, UpdateKeyRequest,
};
use ringvault::admin::{AdminClient, AdminToken};
use ringvault::config::{ADMIN_TOKEN_FILE, Config, DEFAULT_ADMIN_ADDR, DEFAULT_DATA_DIR, Settings};
use ringvault::{node, telemetry};

/// jemalloc, configured in `.cargo/config.toml`: glibc's malloc kept what each of the node's
/// threads had freed (ARCHITECTURE.md "Memory").
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ringvault",
    version,
    about = "An S3-compatible object store on a Dynamo-style ring",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (the default when no command is given).
    Server(Box<ServerArgs>),
    /// Manage the access keys of a running node (through its admin API).
    Key {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Inspect buckets and manage their grants on a running node (through its admin API).
    Bucket {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: BucketCommand,
    },
    /// Cluster membership of a running node (through its admin API).
    Cluster {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: cli::cluster::ClusterCommand,
    },
    /// Whether a running node can serve S3 requests (its admin API's `/v1/health`): exits 0
    /// when it can, 1 with the reasons when it cannot or does not answer. The container
    /// image's health check.
    Health {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Compare this node's partitions with their other owners now and repair what differs
    /// (an anti-entropy pass; `cluster status` shows its progress).
    Repair {
        #[command(flatten)]
        admin: AdminArgs,
        /// Only this partition (it must be one the node owns).
        #[arg(long, conflicts_with = "scrub")]
        partition: Option<u32>,
        /// Scrub instead: check every block the node stores against its checksum and replace
        /// corrupt ones from other replicas.
        #[arg(long)]
        scrub: bool,
    },
    /// Shrink the database file of a stopped node, giving the space that deleted data freed
    /// back to the file system (a running node reuses that space for new writes anyway).
    Compact {
        /// The node's data directory.
        #[arg(long, value_name = "DIR", env = "RINGVAULT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Run a local ring of several nodes in this process, on consecutive loopback ports.
    Dev(cli::dev::DevArgs),
    /// Load any S3 endpoint and measure it: ops/s, MB/s and latency per operation.
    Bench(Box<cli::bench::BenchArgs>),
}

#[derive(clap::Args, Clone, Default)]
struct ServerArgs {
    /// TOML configuration file; flags and RINGVAULT_* variables override its values.
    #[arg(long, env = "RINGVAULT_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

/// How to reach the admin API, and how to print. The ids differ from the server's settings of the
/// same flag names because clap copies global arguments' values up to the parent command by id.
/// The address is an IP socket address like the server's own `admin_addr`: the two share
/// `RINGVAULT_ADMIN_ADDR`, which clap parses for the top-level server settings in any case.
#[derive(clap::Args)]
struct AdminArgs {
    /// Address of the node's admin API.
    #[arg(
        id = "cli_admin_addr",
        long = "admin-addr",
        value_name = "IP:PORT",
        env = "RINGVAULT_ADMIN_ADDR",
        default_value = DEFAULT_ADMIN_ADDR,
        global = true
    )]
    admin_addr: SocketAddr,
    /// Admin token [default: read from <data dir>/admin_token].
    #[arg(
        id = "cli_admin_token",
        long = "admin-token",
        value_name = "TOKEN",
        env = "RINGVAULT_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    admin_token: Option<String>,
    /// The node's data directory, where it keeps its admin token.
    #[arg(
        id = "cli_data_dir",
        long = "data-dir",
        value_name = "DIR",
        env = "RINGVAULT_DATA_DIR",
        default_value = DEFAULT_DATA_DIR,
        global = true
    )]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key with a random id and secret; the secret is printed this once only.
    Create {
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
        /// Let the key create buckets.
        #[arg(long)]
        allow_create_bucket: bool,
    },
    /// Add a key whose id and secret you choose (for scripts and tests).
    Import {
        /// The key id: 3 to 128 characters from A-Z, a-z, 0-9, '-', '_' and '.'.
        #[arg(long)]
        access_key_id: String,
        /// The secret: 8 to 128 visible ASCII characters.
        #[arg(long)]
        secret_access_key: String,
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
        /// Let the key create buckets.
        #[arg(long)]
        allow_create_bucket: bool,
    },
    /// List the keys (never their secrets).
    List,
    /// Show a key: name, creation time, permissions, and the buckets it owns or is granted.
    Info { access_key_id: String },
    /// Delete a key: its next S3 request is refused. The buckets it owns keep it as owner.
    Delete { access_key_id: String },
    /// Give a key a permission.
    Allow {
        access_key_id: String,
        /// Allow creating buckets.
        #[arg(long, required = true)]
        create_bucket: bool,
    },
    /// Take a permission from a key.
    Deny {
        access_key_id: String,
        /// Deny creating buckets.
        #[arg(long, required = true)]
        create_bucket: bool,
    },
}

#[derive(Subcommand)]
enum BucketCommand {
    /// List the buckets with their owners.
    List,
    /// Show a bucket: owner, creation time, region and grants.
    Info { name: String },
    /// Give a key read and/or write access to a bucket, in addition to what it has.
    Allow {
        name: String,
        /// The access key to give access to.
        #[arg(long = "key", value_name = "ACCESS_KEY_ID")]
        access_key_id: String,
        #[command(flatten)]
        rights: RequiredRights,
    },
    /// Say how a request would be decided (bucket policy, ownership, grants, ACLs) and why.
    Explain {
        name: String,
        /// The S3 action, as bucket policies name it (e.g. s3:GetObject).
        #[arg(long)]
        action: String,
        /// The access key asking; omit for an anonymous request.
        #[arg(long = "key", value_name = "ACCESS_KEY_ID")]
        access_key_id: Option<String>,
        /// The object, for object actions.
        #[arg(long)]
        object: Option<String>,
        /// The client address, for aws:SourceIp conditions.
        #[arg(long)]
        source_ip: Option<String>,
    },
    /// Take read and/or write access to a bucket from a key; with neither flag, all of it.
    Deny {
        name: String,
        /// The access key to take access from.
        #[arg(long = "key", value_name = "ACCESS_KEY_ID")]
        access_key_id: String,
        /// Take the right to read objects and list the bucket.
        #[arg(long)]
        read: bool,
        /// Take the right to write and delete objects.
        #[arg(long)]
        write: bool,
    },
}

#[derive(clap::Args)]
#[group(required = true, multiple = true)]
struct RequiredRights {
    /// Read objects and list the bucket.
    #[arg(long)]
    read: bool,
    /// Write and delete objects.
    #[arg(long)]
    write: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Key { admin, command }) => run_admin(&admin, Admin::Key(command)),
        Some(Command::Bucket { admin, command }) => run_admin(&admin, Admin::Bucket(command)),
        Some(Command::Cluster { admin, command }) => run_admin(&admin, Admin::Cluster(command)),
        Some(Command::Health { admin }) => run_admin(&admin, Admin::Health),
        Some(Command::Repair { admin, partition, scrub }) => {
            run_admin(&admin, Admin::Repair { partition, scrub })
        }
        Some(Command::Compact { data_dir }) => compact(&data_dir),
        Some(Command::Dev(args)) => cli::dev::run(&args),
        Some(Command::Bench(args)) => cli::bench::run(&args),
        Some(Command::Server(args)) => run_server(&args),
        None => run_server(&cli.server),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn compact(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let path = data_dir.join(node::DB_FILE);
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    let done = ringvault::store::compact_file(&path)
        .with_context(|| format!("compacting {} (is the node stopped?)", path.display()))?;
    println!(
        "{}: {} -> {} bytes ({} returned)",
        path.display(),
        done.before_bytes,
        done.after_bytes,
        done.before_bytes.saturating_sub(done.after_bytes)
    );
    Ok(())
}

fn run_server(args: &ServerArgs) -> anyhow::Result<()> {
    telemetry::init();
    let file = match &args.config {
        Some(path) => Settings::from_toml_file(path)?,
        None => Settings::default(),
    };
    let config = Config::resolve(args.settings.clone().or(file))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let node = node::start(config).await.context("starting the node")?;
    print_banner(&node, &data_dir);
    shutdown_signal().await?;
    eprintln!("shutting down");
    node.shutdown().await;
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM (what `kill`, systemd and container runtimes send).
pub(crate) async fn shutdown_signal() -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = ctrl_c => r.context("waiting for ctrl-c")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.context("waiting for ctrl-c")?;
    Ok(())
}

/// Says where everything is; never prints a secret or the admin token.
fn print_banner(node: &node::RunningNode, data_dir: &Path) {
    let addr = node.s3_addr();
    let key = node.root_key();
    println!("RingVault S3 endpoint: http://{addr}");
    println!("Data directory:        {}", data_dir.display());
    println!("Root access key id:    {}", key.access_key_id);
    match &key.secret_file {
        Some(file) => println!("Root secret:           in {} (mode 0600)", file.display()),
        None => println!("Root secret:           from RINGVAULT_SECRET_ACCESS_KEY"),
    }
    println!("Admin API:             http://{}", node.admin_addr());
    if let Some(rpc) = node.rpc_addr() {
        println!("Cluster RPC:           {rpc} (node id {:016x})", node.node_id());
    }
    match node.admin_token_file() {
        Some(file) => println!("Admin token:           in {} (mode 0600)", file.display()),
        None => println!("Admin token:           from the configuration (RINGVAULT_ADMIN_TOKEN)"),
    }
    println!("Manage keys:");
    println!(
        "  ringvault key create --name alice --admin-addr {} --data-dir {}",
        node.admin_addr(),
        data_dir.display()
    );
    println!("Try it:");
    match &key.secret_file {
        Some(file) => println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=$(cat {}) AWS_REGION=us-east-1 aws --endpoint-url http://{addr} s3 ls",
            key.access_key_id,
            file.display()
        ),
        None => println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=$RINGVAULT_SECRET_ACCESS_KEY AWS_REGION=us-east-1 aws --endpoint-url http://{addr} s3 ls",
            key.access_key_id
        ),
    }
}

enum Admin {
    Key(KeyCommand),
    Bucket(BucketCommand),
    Cluster(cli::cluster::ClusterCommand),
    Repair { partition: Option<u32>, scrub: bool },
    Health,
}

fn run_admin(args: &AdminArgs, command: Admin) -> anyhow::Result<()> {
    let token = match &args.admin_token {
        Some(token) => AdminToken::new(token.clone()),
        None => ringvault::admin::token_from_file(&args.data_dir.join(ADMIN_TOKEN_FILE))?,
    };
    let client = AdminClient::new(&args.admin_addr.to_string(), token)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match command {
            Admin::Key(command) => key_command(&client, command, args.json).await,
            Admin::Bucket(command) => bucket_command(&client, command, args.json).await,
            Admin::Cluster(command) => cli::cluster::run(&client, command, args.json).await,
            Admin::Repair { partition, scrub } => {
                cli::cluster::repair(&client, partition, scrub, args.json).await
            }
            Admin::Health => cli::cluster::health(&client, args.json).await,
        }
    })
}

async fn key_command(client: &AdminClient, command: KeyCommand, json: bool) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { name, allow_create_bucket } => {
            let key = client.create_key(&CreateKeyRequest { name, allow_create_bucket }).await?;
            if json {
                return print_json(&key);
            }
            println!("Access key id:      {}", key.key.access_key_id);
            println!("Secret access key:  {}", key.secret_access_key);
            print_key_lines(&key.key, false);
            println!("The secret is shown this once only; store it now.");
        }
        KeyCommand::Import { access_key_id, secret_access_key, name, allow_create_bucket } => {
            let request =
                ImportKeyRequest { access_key_id, secret_access_key, name, allow_create_bucket };
            let key = client.import_key(&request).await?;
            if json {
                return print_json(&key);
            }
            println!("Imported access key {}", key.access_key_id);
        }
        KeyCommand::List => {
            let list = client.list_keys().await?;
            if json {
                return print_json(&list);
            }
            let rows = list.keys.iter().map(|k| {
                let create = yes_no(k.allow_create_bucket).to_owned();
                vec![k.access_key_id.clone(), k.name.clone(), k.created.clone(), create]
            });
            print_table(&["ACCESS KEY ID", "NAME", "CREATED", "CREATE BUCKETS"], rows);
        }
        KeyCommand::Info { access_key_id } => {
            let detail = client.key(&access_key_id).await?;
            if json {
                return print_json(&detail);
            }
            print_key_detail(&detail);
        }
        KeyCommand::Delete { access_key_id } => {
            client.delete_key(&access_key_id).await?;
            if json {
                return print_json(
                    &serde_json::json!({ "access_key_id": access_key_id, "deleted": true }),
                );
            }
            println!("Deleted access key {access_key_id}");
        }
        KeyCommand::Allow { access_key_id, create_bucket: _ } => {
            set_create_bucket(client, &access_key_id, true, json).await?;
        }
        KeyCommand::Deny { access_key_id, create_bucket: _ } => {
            set_create_bucket(client, &access_key_id, false, json).await?;
        }
    }
    Ok(())
}

async fn set_create_bucket(
    client: &AdminClient,
    id: &str,
    allow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let key = client.update_key(id, UpdateKeyRequest { allow_create_bucket: allow }).await?;
    if json {
        return print_json(&key);
    }
    let may = if key.allow_create_bucket { "may now" } else { "may no longer" };
    println!("Access key {} {may} create buckets", key.access_key_id);
    Ok(())
}

async fn bucket_command(
    client: &AdminClient,
    command: BucketCommand,
    json: bool,
) -> anyhow::Result<()> {
    let (name, id, change) = match command {
        BucketCommand::List => {
            let list = client.list_buckets().await?;
            if json {
                return print_json(&list);
            }
            if list.buckets.is_empty() {
                println!("No buckets.");
                return Ok(());
            }
            let rows = list.buckets.iter().map(|b| {
                vec![b.name.clone(), b.owner.clone(), b.created.clone(), b.region.clone()]
            });
            print_table(&["NAME", "OWNER", "CREATED", "REGION"], rows);
            return Ok(());
        }
        BucketCommand::Info { name } => {
            let detail = client.bucket(&name).await?;
            if json {
                return print_json(&detail);
            }
            print_bucket_detail(&detail);
            return Ok(());
        }
        BucketCommand::Explain { name, action, access_key_id, object, source_ip } => {
            let request =
                ExplainRequest { principal: access_key_id, action, key: object, source_ip };
            let explained = client.explain(&name, &request).await?;
            if json {
                return print_json(&explained);
            }
            println!("{}: {}", explained.decision, explained.reason);
            return Ok(());
        }
        BucketCommand::Allow { name, access_key_id, rights } => {
            (name, access_key_id, Change::Add { read: rights.read, write: rights.write })
        }
        BucketCommand::Deny { name, access_key_id, read, write } => {
            let all = !read && !write;
            (name, access_key_id, Change::Remove { read: read || all, write: write || all })
        }
    };
    // The API sets a grant to exact rights; adding or removing some is read, change, write.
    let current = client.bucket(&name).await?;
    let (read, write) = current
        .grants
        .iter()
        .find(|g| g.access_key_id == id)
        .map_or((false, false), |g| (g.read, g.write));
    let wanted = match change {
        Change::Add { read: r, write: w } => GrantRequest { read: read || r, write: write || w },
        Change::Remove { read: r, write: w } => {
            GrantRequest { read: read && !r, write: write && !w }
        }
    };
    let detail = client.set_grant(&name, &id, wanted).await?;
    if json {
        return print_json(&detail);
    }
    match rights_text(wanted.read, wanted.write) {
        Some(rights) => println!("Access key {id} on bucket {name}: {rights}"),
        None => println!("Access key {id} has no access to bucket {name}"),
    }
    Ok(())
}

enum Change {
    Add { read: bool, write: bool },
    Remove { read: bool, write: bool },
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn rights_text(read: bool, write: bool) -> Option<&'static str> {
    match (read, write) {
        (true, true) => Some("read, write"),
        (true, false) => Some("read"),
        (false, true) => Some("write"),
        (false, false) => None,
    }
}

fn or_none(items: Vec<String>) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn print_key_lines(key: &KeySummary, with_id: bool) {
    if with_id {
        println!("Access key id:      {}", key.access_key_id);
    }
    println!("Name:               {}", key.name);
    println!("Created:            {}", key.created);
    println!("May create buckets: {}", yes_no(key.allow_create_bucket));
}

fn print_key_detail(detail: &KeyDetail) {
    print_key_lines(&detail.key, true);
    println!("Buckets owned:      {}", or_none(detail.buckets_owned.clone()));
    let granted = detail
        .buckets_granted
        .iter()
        .map(|g| format!("{} ({})", g.bucket, rights_text(g.read, g.write).unwrap_or("none")))
        .collect();
    println!("Buckets granted:    {}", or_none(granted));
}

fn print_bucket_detail(detail: &BucketDetail) {
    let b = &detail.bucket;
    println!("Bucket:  {}", b.name);
    println!("Owner:   {}", b.owner);
    println!("Created: {}", b.created);
    println!("Region:  {}", b.region);
    if !detail.tags.is_empty() {
        let tags = detail.tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect();
        println!("Tags:    {}", or_none(tags));
    }
    if detail.grants.is_empty() {
        println!("Grants:  none");
        return;
    }
    println!("Grants:");
    let rows = detail.grants.iter().map(|g| {
        vec![g.access_key_id.clone(), rights_text(g.read, g.write).unwrap_or("none").to_owned()]
    });
    print_table(
        &["  ACCESS KEY ID", "RIGHTS"],
        rows.map(|mut r| {
            r[0].insert_str(0, "  ");
            r
        }),
    );
}

/// Left-aligned columns, two spaces apart.
fn print_table(headers: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

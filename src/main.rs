//! The `ringvault` binary: parses the command line, resolves the configuration and runs a node.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use ringvault::config::{Config, Settings};
use ringvault::{node, telemetry};

#[derive(Parser)]
#[command(
    name = "ringvault",
    version,
    about = "An S3-compatible object store on a Dynamo-style ring"
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
    Server(ServerArgs),
}

#[derive(clap::Args, Clone, Default)]
struct ServerArgs {
    /// TOML configuration file; flags and RINGVAULT_* variables override its values.
    #[arg(long, env = "RINGVAULT_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Server(args)) => args,
        None => cli.server,
    };
    telemetry::init();
    let file = match &args.config {
        Some(path) => Settings::from_toml_file(path)?,
        None => Settings::default(),
    };
    let config = Config::resolve(args.settings.or(file))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let node = node::start(config).await.context("starting the node")?;
    print_banner(&node, &data_dir);
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = ctrl_c => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        ctrl_c.await
    };
    shutdown.await.context("waiting for a shutdown signal")?;
    eprintln!("shutting down");
    node.shutdown().await;
    Ok(())
}

fn print_banner(node: &node::RunningNode, data_dir: &std::path::Path) {
    let addr = node.s3_addr();
    let key = node.root_key();
    println!("RingVault S3 endpoint: http://{addr}");
    println!("Data directory:        {}", data_dir.display());
    println!("Root access key id:    {}", key.access_key_id);
    match &key.secret_file {
        Some(file) => {
            println!("Root secret:           in {} (mode 0600)", file.display());
            println!("Try it:");
            println!(
                "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=$(cat {}) AWS_REGION=us-east-1 aws --endpoint-url http://{addr} s3 ls",
                key.access_key_id,
                file.display()
            );
        }
        None => {
            println!("Root secret:           from RINGVAULT_SECRET_ACCESS_KEY");
            println!("Try it:");
            println!(
                "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=$RINGVAULT_SECRET_ACCESS_KEY AWS_REGION=us-east-1 aws --endpoint-url http://{addr} s3 ls",
                key.access_key_id
            );
        }
    }
}

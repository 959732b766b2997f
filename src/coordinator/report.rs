//! What a node says about itself when an operator asks any node for the cluster's status: its
//! disk, the hints it holds, and where its rebalance and anti-entropy stand. Asked over RPC at
//! that moment rather than gossiped: the figures are fresh, gossip stays small, and a node
//! that does not answer within a second is shown without them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Coordinator;
use super::anti_entropy::{RebalanceProgress, RepairProgress};
use crate::ring::NodeId;
use crate::rpc::{Router, RpcRequest};
use crate::store::DiskUsage;

/// How long a status request waits for one node's report.
const REPORT_WAIT: Duration = Duration::from_secs(1);

/// One node's report about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    pub disk: DiskUsage,
    /// Whether the node's disk refused its last write that added data.
    pub disk_full: bool,
    /// Hints the node holds for other owners.
    pub hints_pending: u64,
    pub rebalance: RebalanceProgress,
    pub repair: RepairProgress,
}

/// Asks a node for its [`NodeReport`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportRequest;

impl RpcRequest for ReportRequest {
    const TAG: u16 = 30;
    type Response = NodeReport;
}

impl Coordinator {
    /// This node's report. Reads file metadata and counts hints: off the async threads.
    pub async fn report(&self) -> NodeReport {
        let this = self.clone();
        let gather = move || NodeReport {
            disk: this.store().disk_usage(),
            disk_full: this.store().disk_full(),
            hints_pending: this.pending_hints().iter().map(|(_, n)| n).sum(),
            rebalance: this.repair_control().rebalance(),
            repair: this.repair_control().progress(),
        };
        if self.store().runs_inline() {
            return gather();
        }
        tokio::task::spawn_blocking(gather).await.unwrap_or_default()
    }

    /// `node`'s report, or `None` if it does not answer within a second.
    pub async fn report_of(&self, node: NodeId) -> Option<NodeReport> {
        if node == self.node_id() {
            return Some(self.report().await);
        }
        let rpc = self.rpc()?;
        tokio::time::timeout(REPORT_WAIT, rpc.call(node, &ReportRequest)).await.ok()?.ok()
    }

    pub(super) fn register_report(&self, router: &mut Router) {
        let this = self.clone();
        router.register(move |_, ReportRequest| {
            let this = this.clone();
            async move { Ok(this.report().await) }
        });
    }
}

//! Contract tests run against both transports: typed calls, remote errors, unknown tags,
//! timeouts, and refusal of peers without the cluster secret.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Serialize, Deserialize)]
struct Echo(String);
impl RpcRequest for Echo {
    const TAG: u16 = 1;
    type Response = String;
}

#[derive(Debug, Serialize, Deserialize)]
struct Fail;
impl RpcRequest for Fail {
    const TAG: u16 = 2;
    type Response = ();
}

#[derive(Debug, Serialize, Deserialize)]
struct Slow;
impl RpcRequest for Slow {
    const TAG: u16 = 3;
    type Response = ();
}

#[derive(Debug, Serialize, Deserialize)]
struct Unhandled;
impl RpcRequest for Unhandled {
    const TAG: u16 = 99;
    type Response = ();
}

fn router(me: PeerId) -> Router {
    let mut r = Router::new();
    r.register(move |from, Echo(text)| async move { Ok(format!("{me}:{from}:{text}")) });
    r.register(|_, Fail| async { Err::<(), _>("broken".to_owned()) });
    r.register(|_, Slow| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    });
    r
}

async fn contract(client: RpcClient) {
    assert_eq!(client.call(2, &Echo("hi".into())).await.unwrap(), "2:1:hi");
    assert_eq!(client.call(2, &Fail).await, Err(RpcError::Remote { message: "broken".into() }));
    assert_eq!(client.call(2, &Unhandled).await, Err(RpcError::NoHandler { tag: 99 }));
    let timeout = Duration::from_millis(100);
    assert_eq!(
        client.call_with_timeout(2, &Slow, timeout).await,
        Err(RpcError::Timeout { timeout })
    );
    // Many calls in flight on one connection, answered out of order.
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call(2, &Echo(i.to_string())).await.unwrap() })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(c.await.unwrap(), format!("2:1:{i}"));
    }
}

#[tokio::test]
async fn memory_transport_keeps_the_contract() {
    let net = MemoryNetwork::new(1);
    net.attach(2, router(2));
    contract(RpcClient::new(net.transport(1), Duration::from_secs(2))).await;
    net.with_faults(|f| {
        f.down.insert(2);
    });
    let client = RpcClient::new(net.transport(1), Duration::from_millis(50));
    assert!(matches!(client.call(2, &Echo("x".into())).await, Err(RpcError::Timeout { .. })));
}

async fn tcp_pair(client_secret: &[u8]) -> (RpcClient, tokio::sync::oneshot::Sender<()>) {
    let server = TcpTransport::new(2, b"cluster-secret", 2, TcpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .serve(listener, router(2), async {
                let _ = stopped.await;
            })
            .await;
    });
    let client = TcpTransport::new(1, client_secret, 1, TcpOptions::default());
    client.set_address(2, addr);
    (RpcClient::new(Arc::new(client), Duration::from_secs(2)), stop)
}

#[tokio::test]
async fn tcp_transport_keeps_the_contract() {
    let (client, _stop) = tcp_pair(b"cluster-secret").await;
    contract(client).await;
}

#[tokio::test]
async fn a_peer_without_the_secret_gets_nothing() {
    let (client, _stop) = tcp_pair(b"wrong-secret").await;
    let err = client.call(2, &Echo("hi".into())).await.unwrap_err();
    assert!(matches!(err, RpcError::Handshake { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unknown_peer_is_an_error_not_a_hang() {
    let client = TcpTransport::new(1, b"s", 1, TcpOptions::default());
    let client = RpcClient::new(Arc::new(client), Duration::from_secs(1));
    assert_eq!(client.call(9, &Echo("x".into())).await, Err(RpcError::UnknownPeer { peer: 9 }));
}

//! Object-service behaviour that needs a store but no HTTP: crash recovery against writes in
//! progress.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use super::*;
use crate::clock::SystemClock;
use crate::store::Store;

fn service() -> ObjectService {
    let clock: SharedClock = Arc::new(SystemClock);
    let coordinator = Coordinator::standalone(7, Store::in_memory_inline().unwrap(), clock.clone());
    let body = BodyOptions { block_size: 4096, inline_max_bytes: 1024, ..BodyOptions::default() };
    ObjectService::new(coordinator, clock, 1, body)
}

fn put(body: ByteStream) -> PutObject {
    PutObject {
        condition: None,
        owner: "owner".into(),
        size_hint: None,
        headers: ContentHeaders::default(),
        user_metadata: Vec::new(),
        tags: Vec::new(),
        body,
        content_md5: None,
        checksum: None,
    }
}

async fn read_all(service: &ObjectService, bucket: &str, key: &str) -> Vec<u8> {
    let info = service.head_object(bucket, key).await.unwrap();
    let mut stream = service.read_object(&info, 0, info.size() - 1);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// A cluster node recovers in the background while it already serves. Recovery must only undo
/// the writes the previous run left behind: a PUT of this run, still streaming its body when
/// recovery runs, keeps its blocks. (Reading the journal at recovery time instead deleted them,
/// and the PUT was acknowledged with a body that no longer existed.)
#[tokio::test]
async fn regression_recovery_leaves_the_puts_of_this_run_alone() {
    let service = service();
    service.create_bucket("b", "owner", "").await.unwrap();
    let mut left_by_previous_run = service.interrupted_puts().await.unwrap();
    assert!(left_by_previous_run.is_empty());

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BodyError>>(4);
    let body: ByteStream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let writer = tokio::spawn({
        let service = service.clone();
        async move { service.put_object("b", "in-flight", put(body)).await }
    });
    let expected: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    tx.send(Ok(Bytes::copy_from_slice(&expected[..20_000]))).await.unwrap();
    // Wait until the PUT has journaled its body and written blocks.
    for _ in 0..200 {
        if !service.interrupted_puts().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(service.interrupted_puts().await.unwrap().len(), 1, "the PUT is journaled");

    let recovered = service.recover_interrupted_puts(&mut left_by_previous_run).await.unwrap();
    assert_eq!(recovered, 0);

    tx.send(Ok(Bytes::copy_from_slice(&expected[20_000..]))).await.unwrap();
    drop(tx);
    writer.await.unwrap().unwrap();
    assert_eq!(read_all(&service, "b", "in-flight").await, expected);
}

/// What the previous run did leave behind is undone: the blocks of a body no record references
/// are deleted and its journal entry goes.
#[tokio::test]
async fn recovery_deletes_the_blocks_of_an_abandoned_put() {
    let service = service();
    service.create_bucket("b", "owner", "").await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, BodyError>>(4);
    let body: ByteStream = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let writer = tokio::spawn({
        let service = service.clone();
        async move { service.put_object("b", "abandoned", put(body)).await }
    });
    tx.send(Ok(Bytes::from(vec![9u8; 20_000]))).await.unwrap();
    let store = service.coordinator().store().clone();
    for _ in 0..200 {
        if store.block_count().unwrap() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The process "dies" here: the writer is gone, its journal entry and blocks stay.
    writer.abort();
    let _ = writer.await;
    let mut left = service.interrupted_puts().await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(store.block_count().unwrap() >= 4);
    assert_eq!(service.recover_interrupted_puts(&mut left).await.unwrap(), 1);
    assert!(left.is_empty());
    assert_eq!(store.block_count().unwrap(), 0);
    assert!(service.interrupted_puts().await.unwrap().is_empty());
}

//! Bodies on the ring: cutting a PUT stream into blocks while hashing it, and streaming a GET
//! back from blocks with read-ahead. Memory per request is bounded by the block window, never by
//! the object's size.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt};
use md5::{Digest, Md5};

use crate::coordinator::{Coordinator, CoordinatorError};
use crate::store::BlockId;

use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::crypto::BodyCipher;
use super::error::{BodyError, Error};
use super::records::{BodyLayout, Extent};

/// A request or response body: a stream of byte chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BodyError>> + Send>>;

/// Limits and sizes of body handling.
#[derive(Debug, Clone, Copy)]
pub struct BodyOptions {
    pub block_size: u32,
    /// Bodies up to this size are stored inline in the object record.
    pub inline_max_bytes: u32,
    /// Blocks written or read ahead concurrently per request.
    pub window_blocks: usize,
    /// Largest body a single PUT accepts.
    pub object_size_max_bytes: u64,
    /// How long a body that may have become garbage is kept before it is checked and deleted
    /// (see `reclaim`): longer than any read streaming it or request about to reference it.
    pub reclaim_grace: std::time::Duration,
}

impl Default for BodyOptions {
    fn default() -> Self {
        Self {
            // The node sets this from its configuration (1 MiB less 4 KiB by default).
            block_size: (1 << 20) - 4096,
            inline_max_bytes: 64 << 10,
            window_blocks: 4,
            object_size_max_bytes: 5 << 30,
            reclaim_grace: std::time::Duration::from_secs(600),
        }
    }
}

/// The id an inline body is sealed under: its layout keeps none, and its data key seals nothing
/// else (an object's own key; multipart parts are never inline).
const INLINE_DATA_ID: [u8; 16] = [0; 16];

/// What the writer learnt from a body.
#[derive(Debug)]
pub struct WrittenBody {
    pub layout: BodyLayout,
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
}

impl WrittenBody {
    /// Blocks this body wrote (to reclaim them when the write is abandoned).
    pub fn block_ids(&self) -> Vec<BlockId> {
        layout_block_ids(&self.layout)
    }
}

/// Every block id a layout refers to.
pub fn layout_block_ids(layout: &BodyLayout) -> Vec<BlockId> {
    match layout {
        BodyLayout::Inline(_) => Vec::new(),
        BodyLayout::Blocks { extents } => extents
            .iter()
            .flat_map(|e| {
                let data_id = e.data_id;
                (0..e.block_count()).map(move |index| BlockId { data_id, index })
            })
            .collect(),
    }
}

type PendingBlock = tokio::task::JoinHandle<Result<(), CoordinatorError>>;

/// A body past this many bytes is hashed on a thread of its own (`Digests`).
const HASH_OFFLOAD_BYTES: u64 = 4 << 20;
/// Chunks queued for the hashing thread at most: the request waits beyond (bounded memory).
const HASH_QUEUE_CHUNKS: usize = 16;

type HashState = (Md5, Option<Checksummer>);

/// A body's MD5 and requested checksum. MD5 hashes about 550-700 MB/s on one core and cannot be
/// split, so on the request's task it is the limit of a large PUT: past `HASH_OFFLOAD_BYTES`
/// the hashing moves to a blocking thread fed with the chunks (shared, not copied), and
/// overlaps receiving, cutting and writing the blocks. Small bodies stay on the task (no
/// thread hand-off per request). If the request is dropped, the queue closes and the thread
/// ends.
enum Digests {
    Inline(HashState),
    Offloaded { queue: tokio::sync::mpsc::Sender<Bytes>, done: tokio::task::JoinHandle<HashState> },
}

impl Digests {
    fn new(checksum: Option<ChecksumAlgorithm>) -> Self {
        Digests::Inline((Md5::new(), checksum.map(Checksummer::new)))
    }

    /// Hashes `chunk`; `seen` counts the body's bytes so far, this chunk included.
    async fn update(&mut self, chunk: &Bytes, seen: u64) -> Result<(), Error> {
        match self {
            Digests::Inline((md5, summer)) => {
                md5.update(chunk);
                if let Some(s) = summer.as_mut() {
                    s.update(chunk);
                }
                if seen > HASH_OFFLOAD_BYTES {
                    let state = (md5.clone(), summer.clone());
                    *self = Self::offload(state);
                }
                Ok(())
            }
            Digests::Offloaded { queue, .. } => queue
                .send(chunk.clone())
                .await
                .map_err(|_| Error::Internal { what: "the body's hashing thread stopped".into() }),
        }
    }

    fn offload(state: HashState) -> Self {
        let (queue, mut chunks) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE_CHUNKS);
        let done = tokio::task::spawn_blocking(move || {
            let (mut md5, mut summer) = state;
            while let Some(chunk) = chunks.blocking_recv() {
                md5.update(&chunk);
                if let Some(s) = summer.as_mut() {
                    s.update(&chunk);
                }
            }
            (md5, summer)
        });
        Digests::Offloaded { queue, done }
    }

    async fn finish(self) -> Result<HashState, Error> {
        match self {
            Digests::Inline(state) => Ok(state),
            Digests::Offloaded { queue, done } => {
                drop(queue);
                done.await.map_err(|e| Error::Internal { what: format!("body hashing: {e}") })
            }
        }
    }
}

/// Reads `body` to its end, storing it inline or as blocks of a fresh `data_id`, each sealed by
/// `cipher` when the body is encrypted (sizes and digests stay those of the plaintext). On any
/// error the blocks written so far are deleted before the error is returned.
pub async fn write_body(
    coordinator: &Coordinator,
    mut body: ByteStream,
    data_id: [u8; 16],
    options: BodyOptions,
    checksum: Option<ChecksumAlgorithm>,
    cipher: Option<&BodyCipher>,
) -> Result<WrittenBody, Error> {
    let block_size = options.block_size as usize;
    let mut digests = Digests::new(checksum);
    let mut buffer = BytesMut::with_capacity(block_size.min(options.inline_max_bytes as usize + 1));
    let mut size: u64 = 0;
    let mut next_index: u32 = 0;
    let mut in_flight: VecDeque<PendingBlock> = VecDeque::new();

    let result: Result<(), Error> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(Error::from_body)?;
            size += chunk.len() as u64;
            if size > options.object_size_max_bytes {
                return Err(Error::EntityTooLarge { max_bytes: options.object_size_max_bytes });
            }
            digests.update(&chunk, size).await?;
            let mut rest = chunk;
            while !rest.is_empty() {
                let take = (block_size - buffer.len()).min(rest.len());
                buffer.extend_from_slice(&rest.split_to(take));
                if buffer.len() == block_size {
                    let data = std::mem::replace(&mut buffer, BytesMut::with_capacity(block_size));
                    let id = BlockId { data_id, index: next_index };
                    next_index += 1;
                    if in_flight.len() >= options.window_blocks.max(1)
                        && let Some(oldest) = in_flight.pop_front()
                    {
                        join_block(oldest).await?;
                    }
                    let coordinator = coordinator.clone();
                    let data = data.freeze();
                    let cipher = cipher.cloned();
                    // Sealing runs in the block's task, so blocks are encrypted in parallel.
                    in_flight.push_back(tokio::spawn(async move {
                        let data = seal(cipher.as_ref(), &id, data);
                        coordinator.put_block(id, data).await
                    }));
                }
            }
        }
        Ok(())
    }
    .await;
    let hashed = match result {
        Ok(()) => digests.finish().await,
        Err(e) => Err(e),
    };

    // Let every started block write finish, whatever happened, so the cleanup below sees them.
    let mut block_error = None;
    for pending in in_flight {
        if let Err(e) = join_block(pending).await {
            block_error.get_or_insert(e);
        }
    }
    let result = hashed.and_then(|h| block_error.map_or(Ok(h), Err));
    let (md5, summer) = match result {
        Ok(hashed) => hashed,
        Err(e) => {
            if next_index > 0 {
                let written = BodyLayout::Blocks {
                    extents: vec![Extent {
                        data_id,
                        size: u64::from(next_index) * u64::from(options.block_size),
                        block_size: options.block_size,
                    }],
                };
                coordinator.delete_blocks(&layout_block_ids(&written)).await;
            }
            return Err(e);
        }
    };

    let layout = if next_index == 0 && buffer.len() <= options.inline_max_bytes as usize {
        BodyLayout::Inline(match cipher {
            Some(c) => c.seal_inline(&INLINE_DATA_ID, &buffer),
            None => buffer.to_vec(),
        })
    } else {
        let layout = BodyLayout::Blocks {
            extents: vec![Extent { data_id, size, block_size: options.block_size }],
        };
        if !buffer.is_empty() {
            let id = BlockId { data_id, index: next_index };
            let data = seal(cipher, &id, buffer.freeze());
            if let Err(e) = coordinator.put_block(id, data).await {
                coordinator.delete_blocks(&layout_block_ids(&layout)).await;
                return Err(e.into());
            }
        }
        layout
    };
    Ok(WrittenBody {
        layout,
        size,
        md5: md5.finalize().into(),
        checksum: summer.map(|s| (s.algorithm(), s.finish())),
    })
}

fn seal(cipher: Option<&BodyCipher>, id: &BlockId, data: Bytes) -> Bytes {
    match cipher {
        Some(c) => Bytes::from(c.seal_block(&id.data_id, id.index, &data)),
        None => data,
    }
}

async fn join_block(pending: PendingBlock) -> Result<(), Error> {
    match pending.await {
        Ok(result) => result.map_err(Error::from),
        Err(e) => Err(Error::Internal { what: format!("block write task: {e}") }),
    }
}

/// Streams bytes `start..=end` of a body (opening each block with `cipher` when it is
/// encrypted: a block is read whole even for a range within it).
pub fn read_body(
    coordinator: &Coordinator,
    layout: &BodyLayout,
    start: u64,
    end: u64,
    window_blocks: usize,
    cipher: Option<&BodyCipher>,
) -> ByteStream {
    match layout {
        BodyLayout::Inline(data) => {
            let data = match cipher {
                // An inline body's data id is not kept: it is sealed under the zero id.
                Some(c) => match c.open_inline(&INLINE_DATA_ID, data) {
                    Ok(plain) => Bytes::from(plain),
                    Err(e) => {
                        return Box::pin(stream::once(async move { Err(BodyError(Box::new(e))) }));
                    }
                },
                None => Bytes::from(data.clone()),
            };
            let lo = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
            let hi = usize::try_from(end.saturating_add(1)).unwrap_or(usize::MAX).min(data.len());
            Box::pin(stream::once(async move { Ok(data.slice(lo..hi.max(lo))) }))
        }
        BodyLayout::Blocks { extents } => {
            let pieces = plan_reads(extents, start, end);
            let coordinator = coordinator.clone();
            let cipher = cipher.cloned();
            let reads = stream::iter(pieces).map(move |(id, lo, hi)| {
                let coordinator = coordinator.clone();
                let cipher = cipher.clone();
                async move {
                    let data =
                        coordinator.get_block(id).await.map_err(|e| BodyError(Box::new(e)))?;
                    let data = match cipher {
                        Some(c) => Bytes::from(
                            c.open_block(&id.data_id, id.index, &data)
                                .map_err(|e| BodyError(Box::new(e)))?,
                        ),
                        None => data,
                    };
                    let hi = hi.min(data.len());
                    Ok(data.slice(lo.min(hi)..hi))
                }
            });
            Box::pin(reads.buffered(window_blocks.max(1)))
        }
    }
}

/// Which block slices `(block, from, to)` cover bytes `start..=end` of a body.
fn plan_reads(extents: &[Extent], start: u64, end: u64) -> Vec<(BlockId, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for extent in extents {
        let extent_end = offset + extent.size;
        if extent_end > start && offset <= end {
            let block_size = u64::from(extent.block_size.max(1));
            let first = start.saturating_sub(offset) / block_size;
            let last = (end.min(extent_end - 1) - offset) / block_size;
            for index in first..=last {
                let block_start = offset + index * block_size;
                let lo = start.saturating_sub(block_start).min(block_size);
                let hi = ((end + 1).min(extent_end) - block_start).min(block_size);
                let id = BlockId {
                    data_id: extent.data_id,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                };
                out.push((id, usize::try_from(lo).unwrap_or(0), usize::try_from(hi).unwrap_or(0)));
            }
        }
        offset = extent_end;
    }
    out
}

/// Shared handle for values a body stream learns only at its end (aws-chunked trailers).
pub type TrailerSlot = Arc<std::sync::Mutex<Vec<(String, String)>>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(id: u8, size: u64) -> Extent {
        Extent { data_id: [id; 16], size, block_size: 10 }
    }

    #[test]
    fn plan_reads_slices_the_covered_blocks() {
        let plan = plan_reads(&[ext(1, 25)], 5, 21);
        let got: Vec<_> = plan.iter().map(|(id, lo, hi)| (id.index, *lo, *hi)).collect();
        assert_eq!(got, vec![(0, 5, 10), (1, 0, 10), (2, 0, 2)]);
    }

    #[test]
    fn plan_reads_crosses_extents() {
        let plan = plan_reads(&[ext(1, 15), ext(2, 10)], 12, 17);
        let got: Vec<_> =
            plan.iter().map(|(id, lo, hi)| (id.data_id[0], id.index, *lo, *hi)).collect();
        assert_eq!(got, vec![(1, 1, 2, 5), (2, 0, 0, 3)]);
    }

    #[test]
    fn layout_lists_every_block() {
        let layout = BodyLayout::Blocks { extents: vec![ext(1, 25), ext(2, 10)] };
        assert_eq!(layout_block_ids(&layout).len(), 4);
    }
}

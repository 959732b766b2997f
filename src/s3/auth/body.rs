//! The verifying request body used by PUT: wraps the raw HTTP body, decodes `aws-chunked` when
//! the payload mode says so, and proves the payload authentic and complete before the stream
//! ends.
//!
//! Invariants:
//! - Payload bytes are yielded as they arrive (never buffered whole), so verification of what
//!   was already yielded completes only at the end. A consumer must therefore treat the upload
//!   as valid only once the stream has ended without an `Err`, and discard everything otherwise.
//! - The stream's end (`None`) is yielded only after every check passed: payload hash, every
//!   chunk and trailer signature, decoded length and raw length.
//! - Any failure is yielded once as `Err(S3Error)`; the stream then ends and the raw body is not
//!   polled again.
//! - Trailer fields reach the [`TrailerSink`] only when the whole body verified.
//!
//! Not here: choosing the mode from the headers, checking the trailer's checksum value, or that
//! the trailers declared in `x-amz-trailer` arrived (the caller reads the sink for that).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>

use std::collections::VecDeque;
use std::fmt::Display;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, ready};
use sha2::{Digest, Sha256};

use super::chunked::{ChunkError, ChunkEvent, ChunkLimits, ChunkedDecoder};
use super::sigv4::{chunk_string_to_sign, signature, signatures_match, trailer_string_to_sign};
use crate::s3::error::{S3Error, S3ErrorCode};

/// How the payload is protected, from `x-amz-content-sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`: raw body passed through.
    Unsigned,
    /// A hex SHA-256: raw body, hashed and compared at the end.
    Sha256 { expected_hex: String },
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: aws-chunked, every chunk signature (and
    /// the trailer signature) verified, chained from the request's seed signature.
    StreamingSigned {
        signing_key: Vec<u8>,
        amz_date: String,
        scope: String,
        seed_signature: String,
        trailer: bool,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned chunks and trailer.
    StreamingUnsignedTrailer,
}

/// Where the verified trailer fields (lower-case names) are left for the handler.
pub type TrailerSink = Arc<Mutex<Vec<(String, String)>>>;

/// Chunk limits for request bodies: a chunk may be as large as the largest object (data is
/// streamed through, never buffered), and signed chunks keep S3's 8 KiB minimum.
fn streaming_limits(chunk_size_bytes_min: u64) -> ChunkLimits {
    ChunkLimits { chunk_size_bytes_max: 5 << 30, chunk_size_bytes_min, ..ChunkLimits::default() }
}

/// Wraps the raw body; see the module doc for what is checked.
///
/// `content_length` bounds the raw bytes (`Content-Length`), `decoded_length` the payload bytes
/// (`x-amz-decoded-content-length`); each, when given, must match exactly, else
/// `IncompleteBody`. A transport error from `raw` becomes `IncompleteBody`.
pub fn verified_body<S, E>(
    raw: S,
    mode: PayloadMode,
    content_length: Option<u64>,
    decoded_length: Option<u64>,
    trailers: TrailerSink,
) -> VerifiedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Display,
{
    let framing = match mode {
        PayloadMode::Unsigned => Framing::Raw { hash: None },
        PayloadMode::Sha256 { expected_hex } => {
            Framing::Raw { hash: Some((Sha256::new(), expected_hex)) }
        }
        PayloadMode::StreamingSigned { signing_key, amz_date, scope, seed_signature, trailer } => {
            Framing::Chunked(Box::new(Chunked {
                decoder: ChunkedDecoder::new(streaming_limits(8 << 10)),
                chain: Some(SignatureChain {
                    signing_key,
                    amz_date,
                    scope,
                    previous: seed_signature,
                    chunk_hash: Sha256::new(),
                    claimed: None,
                }),
                trailer_allowed: trailer,
                trailer_fields: Vec::new(),
            }))
        }
        PayloadMode::StreamingUnsignedTrailer => Framing::Chunked(Box::new(Chunked {
            // Unsigned trailer bodies carry whatever frames the client's body yields; SDKs do
            // not pad them to 8 KiB, so no minimum is enforced there.
            decoder: ChunkedDecoder::new(streaming_limits(0)),
            chain: None,
            trailer_allowed: true,
            trailer_fields: Vec::new(),
        })),
    };
    VerifiedBody {
        raw,
        verifier: Verifier {
            framing,
            content_length,
            decoded_length,
            raw_bytes: 0,
            decoded_bytes: 0,
            trailers,
        },
        ready: VecDeque::new(),
        ended: false,
    }
}

/// The stream returned by [`verified_body`].
pub struct VerifiedBody<S> {
    raw: S,
    verifier: Verifier,
    /// Verified-so-far payload waiting to be yielded.
    ready: VecDeque<Bytes>,
    /// Set once `None` or an `Err` has been decided; the raw body is not polled after.
    ended: bool,
}

impl<S> VerifiedBody<S> {
    fn fail(&mut self, error: S3Error) -> Poll<Option<Result<Bytes, S3Error>>> {
        self.ended = true;
        self.ready.clear();
        Poll::Ready(Some(Err(error)))
    }
}

impl<S, E> Stream for VerifiedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    type Item = Result<Bytes, S3Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.raw.poll_next_unpin(cx)) {
                Some(Ok(bytes)) => {
                    if let Err(error) = this.verifier.feed(bytes, &mut this.ready) {
                        return this.fail(error);
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "request body transport error");
                    return this.fail(incomplete("The request body terminated unexpectedly"));
                }
                None => {
                    if let Err(error) = this.verifier.finish(&mut this.ready) {
                        return this.fail(error);
                    }
                    this.ended = true;
                }
            }
        }
    }
}

fn incomplete(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::IncompleteBody, message)
}

fn signature_mismatch(what: &str) -> S3Error {
    tracing::debug!(what, "aws-chunked signature rejected");
    S3Error::from(S3ErrorCode::SignatureDoesNotMatch)
}

/// The pure checking state, kept apart from polling.
struct Verifier {
    framing: Framing,
    content_length: Option<u64>,
    decoded_length: Option<u64>,
    raw_bytes: u64,
    decoded_bytes: u64,
    trailers: TrailerSink,
}

enum Framing {
    /// The body is the payload; `hash` is (running hash, expected hex) in `Sha256` mode.
    Raw {
        hash: Option<(Sha256, String)>,
    },
    Chunked(Box<Chunked>),
}

struct Chunked {
    decoder: ChunkedDecoder,
    /// `None` for unsigned chunks.
    chain: Option<SignatureChain>,
    trailer_allowed: bool,
    trailer_fields: Vec<(String, String)>,
}

/// The rolling signature state of a signed aws-chunked body.
struct SignatureChain {
    signing_key: Vec<u8>,
    amz_date: String,
    scope: String,
    /// Seed signature, then the last verified chunk signature.
    previous: String,
    chunk_hash: Sha256,
    claimed: Option<String>,
}

impl SignatureChain {
    fn start_chunk(&mut self, claimed: Option<String>) -> Result<(), S3Error> {
        let claimed = claimed.ok_or_else(|| signature_mismatch("chunk without chunk-signature"))?;
        self.claimed = Some(claimed);
        self.chunk_hash = Sha256::new();
        Ok(())
    }

    fn end_chunk(&mut self) -> Result<(), S3Error> {
        let chunk_hash = hex::encode(std::mem::take(&mut self.chunk_hash).finalize());
        let sts = chunk_string_to_sign(&self.amz_date, &self.scope, &self.previous, &chunk_hash);
        let expected = signature(&self.signing_key, &sts);
        let claimed = self.claimed.take().unwrap_or_default();
        if !signatures_match(&expected, &claimed) {
            return Err(signature_mismatch("chunk-signature"));
        }
        self.previous = expected;
        Ok(())
    }

    fn check_trailer(
        &self,
        fields: &[(String, String)],
        claimed: Option<&str>,
    ) -> Result<(), S3Error> {
        let claimed = claimed.ok_or_else(|| signature_mismatch("trailer without signature"))?;
        let sts = trailer_string_to_sign(&self.amz_date, &self.scope, &self.previous, fields);
        if !signatures_match(&signature(&self.signing_key, &sts), claimed) {
            return Err(signature_mismatch("x-amz-trailer-signature"));
        }
        Ok(())
    }
}

impl Verifier {
    fn feed(&mut self, bytes: Bytes, ready: &mut VecDeque<Bytes>) -> Result<(), S3Error> {
        self.raw_bytes += bytes.len() as u64;
        if self.content_length.is_some_and(|limit| self.raw_bytes > limit) {
            return Err(incomplete("The request body is longer than its Content-Length."));
        }
        match &mut self.framing {
            Framing::Raw { hash } => {
                if let Some((hasher, _)) = hash {
                    hasher.update(&bytes);
                }
                self.decoded_bytes += bytes.len() as u64;
                check_not_over(self.decoded_bytes, self.decoded_length)?;
                ready.push_back(bytes);
                Ok(())
            }
            Framing::Chunked(chunked) => {
                chunked.decoder.push(bytes);
                chunked.drain(&mut self.decoded_bytes, self.decoded_length, ready)
            }
        }
    }

    fn finish(&mut self, ready: &mut VecDeque<Bytes>) -> Result<(), S3Error> {
        if let Framing::Chunked(chunked) = &mut self.framing {
            chunked.decoder.finish();
            chunked.drain(&mut self.decoded_bytes, self.decoded_length, ready)?;
            if !chunked.decoder.is_done() {
                return Err(ChunkError::Truncated.into());
            }
        }
        if self.decoded_length.is_some_and(|expected| self.decoded_bytes != expected) {
            return Err(incomplete(
                "The decoded body length does not match x-amz-decoded-content-length.",
            ));
        }
        if self.content_length.is_some_and(|expected| self.raw_bytes != expected) {
            return Err(S3Error::from(S3ErrorCode::IncompleteBody));
        }
        match &mut self.framing {
            Framing::Raw { hash: Some((hasher, expected_hex)) } => {
                let actual = hex::encode(std::mem::take(hasher).finalize());
                if !actual.eq_ignore_ascii_case(expected_hex) {
                    return Err(S3Error::from(S3ErrorCode::XAmzContentSHA256Mismatch)
                        .with("ClientComputedContentSHA256", expected_hex.clone())
                        .with("S3ComputedContentSHA256", actual));
                }
            }
            Framing::Raw { hash: None } => {}
            Framing::Chunked(chunked) => {
                let fields = std::mem::take(&mut chunked.trailer_fields);
                if !fields.is_empty() {
                    let mut sink = self.trailers.lock().unwrap_or_else(PoisonError::into_inner);
                    sink.extend(fields);
                }
            }
        }
        Ok(())
    }
}

fn check_not_over(decoded_bytes: u64, decoded_length: Option<u64>) -> Result<(), S3Error> {
    if decoded_length.is_some_and(|limit| decoded_bytes > limit) {
        return Err(incomplete("The decoded body is longer than x-amz-decoded-content-length."));
    }
    Ok(())
}

impl Chunked {
    fn drain(
        &mut self,
        decoded_bytes: &mut u64,
        decoded_length: Option<u64>,
        ready: &mut VecDeque<Bytes>,
    ) -> Result<(), S3Error> {
        while let Some(event) = self.decoder.next_event()? {
            match event {
                ChunkEvent::ChunkStart { signature, .. } => {
                    // Unsigned trailer mode ignores signatures: nothing relies on them.
                    if let Some(chain) = &mut self.chain {
                        chain.start_chunk(signature)?;
                    }
                }
                ChunkEvent::Data(data) => {
                    *decoded_bytes += data.len() as u64;
                    check_not_over(*decoded_bytes, decoded_length)?;
                    if let Some(chain) = &mut self.chain {
                        chain.chunk_hash.update(&data);
                    }
                    ready.push_back(data);
                }
                ChunkEvent::ChunkEnd => {
                    if let Some(chain) = &mut self.chain {
                        chain.end_chunk()?;
                    }
                }
                ChunkEvent::Trailers { fields, signature } => {
                    if !self.trailer_allowed {
                        return Err(ChunkError::MalformedTrailer {
                            reason: "a trailer was sent without x-amz-trailer",
                        }
                        .into());
                    }
                    if let Some(chain) = &self.chain {
                        chain.check_trailer(&fields, signature.as_deref())?;
                    }
                    self.trailer_fields = fields;
                }
                ChunkEvent::End => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Goal: each payload mode yields exactly the payload when the body is authentic and
    //! complete, and otherwise ends with the one error AWS would send, whatever the split of the
    //! raw body. Method: drive `verified_body` over `stream::iter` inputs cut at odd boundaries,
    //! using AWS's streaming examples for the signed modes.

    use futures_util::stream;

    use super::super::sigv4::signing_key;
    use super::super::sigv4::test_vectors::{
        Fixture, PUT_OBJECT, SECRET, STREAMING_PUT_OBJECT, STREAMING_TRAILER_PUT_OBJECT,
    };
    use super::*;

    struct Outcome {
        payload: Vec<u8>,
        error: Option<S3Error>,
        trailers: Vec<(String, String)>,
    }

    impl Outcome {
        fn code(&self) -> Option<S3ErrorCode> {
            self.error.as_ref().map(|e| e.code)
        }
    }

    async fn run_items(
        items: Vec<Result<Bytes, String>>,
        mode: PayloadMode,
        content_length: Option<u64>,
        decoded_length: Option<u64>,
    ) -> Outcome {
        let sink = TrailerSink::default();
        let mut body =
            verified_body(stream::iter(items), mode, content_length, decoded_length, sink.clone());
        let mut payload = Vec::new();
        let mut error = None;
        while let Some(item) = body.next().await {
            assert!(error.is_none(), "an item followed an error");
            match item {
                Ok(bytes) => payload.extend_from_slice(&bytes),
                Err(e) => error = Some(e),
            }
        }
        assert!(body.next().await.is_none(), "the stream is fused after its end");
        let trailers = sink.lock().unwrap().clone();
        Outcome { payload, error, trailers }
    }

    /// Runs `body` cut into `piece`-byte pieces.
    async fn run(
        body: &[u8],
        piece: usize,
        mode: PayloadMode,
        content_length: Option<u64>,
        decoded_length: Option<u64>,
    ) -> Outcome {
        let items = body.chunks(piece).map(|p| Ok(Bytes::copy_from_slice(p))).collect();
        run_items(items, mode, content_length, decoded_length).await
    }

    fn signed_mode(fixture: &Fixture, trailer: bool) -> PayloadMode {
        PayloadMode::StreamingSigned {
            signing_key: signing_key(SECRET, "20130524", "us-east-1", "s3").unwrap(),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: fixture.get("signature").into(),
            trailer,
        }
    }

    const PIECES: [usize; 6] = [1, 3, 7, 1000, 65_537, 1 << 20];

    #[tokio::test]
    async fn unsigned_passes_the_body_through() {
        let body = b"hello, odd boundaries";
        for piece in [1, 2, 5, 100] {
            let out = run(body, piece, PayloadMode::Unsigned, Some(21), None).await;
            assert_eq!(out.code(), None);
            assert_eq!(out.payload, body);
        }
        let out = run(b"", 1, PayloadMode::Unsigned, Some(0), Some(0)).await;
        assert_eq!((out.code(), out.payload.len()), (None, 0));
    }

    #[tokio::test]
    async fn raw_lengths_must_match_content_length() {
        let short = run(b"hello", 2, PayloadMode::Unsigned, Some(6), None).await;
        assert_eq!(short.code(), Some(S3ErrorCode::IncompleteBody));
        let long = run(b"hello", 2, PayloadMode::Unsigned, Some(4), None).await;
        assert_eq!(long.code(), Some(S3ErrorCode::IncompleteBody));
        assert!(long.payload.len() <= 4, "bytes past Content-Length were yielded");
    }

    #[tokio::test]
    async fn sha256_mode_checks_the_hash() {
        let f = Fixture::parse(PUT_OBJECT);
        let body = f.get("body").as_bytes();
        let expected_hex = f.get("payload_hash").to_owned();
        for piece in [1, 4, 64] {
            let mode = PayloadMode::Sha256 { expected_hex: expected_hex.clone() };
            let out = run(body, piece, mode, Some(21), None).await;
            assert_eq!(out.code(), None);
            assert_eq!(out.payload, b"Welcome to Amazon S3.");
        }
        let upper = PayloadMode::Sha256 { expected_hex: expected_hex.to_uppercase() };
        assert_eq!(run(body, 5, upper, None, None).await.code(), None);

        let mode = PayloadMode::Sha256 { expected_hex: expected_hex.clone() };
        let out = run(b"Welcome to Amazon S3!", 5, mode, None, None).await;
        let error = out.error.unwrap();
        assert_eq!(error.code, S3ErrorCode::XAmzContentSHA256Mismatch);
        assert_eq!(error.extra[0], ("ClientComputedContentSHA256", expected_hex));
    }

    #[tokio::test]
    async fn signed_streaming_example_verifies() {
        let f = Fixture::parse(STREAMING_PUT_OBJECT);
        let body = f.chunked_body(false);
        for piece in PIECES {
            let out = run(&body, piece, signed_mode(&f, false), Some(66_824), Some(66_560)).await;
            assert_eq!(out.code(), None, "piece {piece}");
            assert_eq!(out.payload, vec![b'a'; 66_560]);
            assert!(out.trailers.is_empty());
        }
    }

    #[tokio::test]
    async fn signed_streaming_rejects_tampering() {
        let f = Fixture::parse(STREAMING_PUT_OBJECT);
        let body = f.chunked_body(false);
        let sigs = f.lines("chunk_signatures");
        let replace = |from: &str, to: &str| -> Vec<u8> {
            String::from_utf8(body.clone()).unwrap().replacen(from, to, 1).into_bytes()
        };
        let mut flipped = sigs[1].clone();
        flipped.replace_range(0..1, "1");
        let mut tampered_data = body.clone();
        tampered_data[70_000 - 5_000] = b'b';
        let cases = [
            ("second chunk signature", replace(&sigs[1], &flipped)),
            ("final chunk signature", replace(&sigs[2], &sigs[1])),
            ("payload byte", tampered_data),
            ("unsigned chunk", replace(&format!("400;chunk-signature={}", sigs[1]), "400")),
        ];
        for (what, tampered) in cases {
            for piece in [7, 65_537] {
                let out = run(&tampered, piece, signed_mode(&f, false), None, None).await;
                assert_eq!(out.code(), Some(S3ErrorCode::SignatureDoesNotMatch), "{what}");
            }
        }
        let mut wrong_seed = signed_mode(&f, false);
        if let PayloadMode::StreamingSigned { seed_signature, .. } = &mut wrong_seed {
            seed_signature.replace_range(0..1, "0");
        }
        let out = run(&body, 4096, wrong_seed, None, None).await;
        assert_eq!(out.code(), Some(S3ErrorCode::SignatureDoesNotMatch));
        // The failing chunk's own bytes may already be out (the consumer discards them on Err),
        // but nothing after it is.
        assert!(out.payload.len() <= 65_536, "data followed a chunk that failed to verify");
    }

    #[tokio::test]
    async fn signed_trailer_example_verifies_and_fills_the_sink() {
        let f = Fixture::parse(STREAMING_TRAILER_PUT_OBJECT);
        let body = f.chunked_body(true);
        for piece in PIECES {
            let out =
                run(&body, piece, signed_mode(&f, true), Some(body.len() as u64), Some(66_560))
                    .await;
            assert_eq!(out.code(), None, "piece {piece}");
            assert_eq!(out.payload.len(), 66_560);
            assert_eq!(out.trailers, [("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]);
        }
    }

    #[tokio::test]
    async fn signed_trailer_rejects_tampering() {
        let f = Fixture::parse(STREAMING_TRAILER_PUT_OBJECT);
        let text = String::from_utf8(f.chunked_body(true)).unwrap();
        let sig_line = format!("x-amz-trailer-signature:{}\r\n", f.get("trailer_signature"));
        let cases = [
            (
                "trailer value",
                text.replacen("sOO8/Q==", "sOO8/Q=A", 1),
                S3ErrorCode::SignatureDoesNotMatch,
            ),
            (
                "trailer signature missing",
                text.replacen(&sig_line, "", 1),
                S3ErrorCode::SignatureDoesNotMatch,
            ),
            (
                "extra trailer",
                text.replacen("x-amz-trailer-sig", "x-extra:1\r\nx-amz-trailer-sig", 1),
                S3ErrorCode::SignatureDoesNotMatch,
            ),
        ];
        for (what, body, code) in cases {
            let out = run(body.as_bytes(), 333, signed_mode(&f, true), None, None).await;
            assert_eq!(out.code(), Some(code), "{what}");
            assert!(out.trailers.is_empty(), "{what}: sink filled by a rejected body");
        }
        // A valid trailer is still refused when the mode declared none.
        let out = run(text.as_bytes(), 4096, signed_mode(&f, false), None, None).await;
        assert_eq!(out.code(), Some(S3ErrorCode::InvalidRequest));
    }

    fn unsigned_trailer_body(payload: &[u8]) -> Vec<u8> {
        let mut body = format!("{:X}\r\n", payload.len()).into_bytes();
        body.extend_from_slice(payload);
        body.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        body
    }

    #[tokio::test]
    async fn unsigned_trailer_mode_verifies_lengths_and_fills_the_sink() {
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let body = unsigned_trailer_body(&payload);
        for piece in [1, 9, 8192, 100_000] {
            let mode = PayloadMode::StreamingUnsignedTrailer;
            let out = run(&body, piece, mode, Some(body.len() as u64), Some(20_000)).await;
            assert_eq!(out.code(), None);
            assert_eq!(out.payload, payload);
            assert_eq!(out.trailers, [("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned())]);
        }
    }

    #[tokio::test]
    async fn decoded_length_must_match() {
        let f = Fixture::parse(STREAMING_PUT_OBJECT);
        let body = f.chunked_body(false);
        for wrong in [66_559, 66_561, 0] {
            let out = run(&body, 1000, signed_mode(&f, false), None, Some(wrong)).await;
            assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody), "{wrong}");
            assert!(out.payload.len() as u64 <= wrong);
        }
        let body = unsigned_trailer_body(b"abc");
        let out = run(&body, 2, PayloadMode::StreamingUnsignedTrailer, None, Some(4)).await;
        assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody));
        assert!(out.trailers.is_empty());
    }

    #[tokio::test]
    async fn truncated_streams_are_incomplete() {
        let f = Fixture::parse(STREAMING_TRAILER_PUT_OBJECT);
        let body = f.chunked_body(true);
        for cut in [0, 10, 65_000, body.len() - 100, body.len() - 2] {
            let out = run(&body[..cut], 4096, signed_mode(&f, true), None, None).await;
            assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody), "cut {cut}");
            assert!(out.trailers.is_empty());
        }
        let body = unsigned_trailer_body(b"abc");
        let out =
            run(&body[..body.len() - 1], 3, PayloadMode::StreamingUnsignedTrailer, None, None)
                .await;
        assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody));
        let out = run(b"garbage", 3, PayloadMode::StreamingUnsignedTrailer, None, None).await;
        assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody));
    }

    #[tokio::test]
    async fn a_transport_error_ends_the_stream_as_incomplete() {
        let items = vec![
            Ok(Bytes::from_static(b"abc")),
            Err("connection reset".to_owned()),
            Ok(Bytes::from_static(b"def")),
        ];
        let out = run_items(items, PayloadMode::Unsigned, None, None).await;
        assert_eq!(out.code(), Some(S3ErrorCode::IncompleteBody));
        assert_eq!(out.payload, b"abc");
    }

    #[test]
    fn the_body_is_send_and_static() {
        fn assert_send_static<T: Send + 'static>(_: &T) {}
        let raw = stream::iter(Vec::<Result<Bytes, std::io::Error>>::new());
        let body = verified_body(raw, PayloadMode::Unsigned, None, None, TrailerSink::default());
        assert_send_static(&body);
    }
}

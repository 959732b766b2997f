//! Incremental, I/O-free decoder for the `aws-chunked` content encoding used by streaming
//! SigV4 uploads (signed or unsigned, with or without trailers).
//!
//! Wire format: chunks `hex-size[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n`, a final chunk of
//! size 0 (its header line only), then a trailer section of `name:value\r\n` lines, the last of
//! which may be `x-amz-trailer-signature:<64 hex>`, closed by an empty line `\r\n`. Without
//! trailers the body therefore ends `0[;chunk-signature=...]\r\n\r\n`.
//!
//! Invariants:
//! - Payload bytes are never copied or accumulated: each [`ChunkEvent::Data`] is a zero-copy
//!   slice of a pushed buffer, emitted as soon as it arrives.
//! - Buffering is bounded: one header line ([`ChunkLimits::header_line_bytes_max`]) or the
//!   trailer section ([`ChunkLimits::trailer_section_bytes_max`]).
//! - The decoder checks framing only; signatures are verified by `body.rs`.
//! - After an error the decoder is poisoned and repeats that error.
//!
//! Leniency, where SDKs differ: upper- or lower-case hex sizes, trailer lines ending in a bare
//! `\n`, and stray `\r`/`\n` after the closing empty line are accepted. A body that stops before
//! the closing empty line is truncated: every AWS SDK sends it and S3 rejects its absence.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html>

use std::collections::VecDeque;

use bytes::{Buf, Bytes};

use crate::s3::error::{S3Error, S3ErrorCode};

/// Bounds on what a client can make the decoder hold or accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Longest chunk header line, CRLF included.
    pub header_line_bytes_max: usize,
    /// Largest trailer section, line endings and closing empty line included.
    pub trailer_section_bytes_max: usize,
    /// Largest single chunk.
    pub chunk_size_bytes_max: u64,
    /// Smallest chunk allowed anywhere but last, as S3 enforces (`InvalidChunkSizeError`).
    pub chunk_size_bytes_min: u64,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        Self {
            header_line_bytes_max: 4 * 1024,
            trailer_section_bytes_max: 16 * 1024,
            chunk_size_bytes_max: 64 * 1024 * 1024,
            chunk_size_bytes_min: 8 * 1024,
        }
    }
}

/// What the decoder found next in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkEvent {
    /// A chunk header. The final chunk has `size == 0`.
    ChunkStart { size: u64, signature: Option<String> },
    /// Payload bytes of the current chunk (a slice of pushed input).
    Data(Bytes),
    /// The current chunk's data and its CRLF are complete (for the final chunk: its header).
    ChunkEnd,
    /// The trailer section, when it has at least one line. Names are lower-case, values
    /// trimmed, in the order sent; `x-amz-trailer-signature` is split out into `signature`.
    Trailers { fields: Vec<(String, String)>, signature: Option<String> },
    /// The body is complete.
    End,
}

/// Framing errors. See [`ChunkError::s3_code`] for the S3 code each maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("the aws-chunked body ended before its closing empty line")]
    Truncated,
    #[error("a chunk header line is longer than {limit_bytes} bytes")]
    HeaderTooLong { limit_bytes: usize },
    #[error("a chunk header is malformed: {reason}")]
    MalformedHeader { reason: &'static str },
    #[error("chunk data is not followed by CRLF")]
    MissingDataCrlf,
    #[error("chunk of {size_bytes} bytes exceeds the {limit_bytes}-byte limit")]
    ChunkTooLarge { size_bytes: u64, limit_bytes: u64 },
    #[error(
        "chunk {chunk_number} follows a {bad_size_bytes}-byte chunk; only the last chunk may be smaller than {min_bytes} bytes"
    )]
    ChunkTooSmall { chunk_number: u64, bad_size_bytes: u64, min_bytes: u64 },
    #[error("the trailer section is longer than {limit_bytes} bytes")]
    TrailerTooLarge { limit_bytes: usize },
    #[error("the trailer section is malformed: {reason}")]
    MalformedTrailer { reason: &'static str },
    #[error("unexpected bytes after the end of the aws-chunked body")]
    TrailingData,
}

/// AWS's message for a trailer it cannot parse (its code, `MalformedTrailerError`, is not one
/// we emit; see [`ChunkError::s3_code`]).
const MALFORMED_TRAILER_MESSAGE: &str = "The request contained trailing data that was not well-formed or did not conform to our published schema.";

impl ChunkError {
    /// The S3 code for this error.
    ///
    /// S3 answers any malformed or cut-short aws-chunked framing with `IncompleteBody` (observed
    /// against AWS and reported by versity/versitygw#1666), so all framing errors map there.
    /// An undersized chunk is `InvalidChunkSizeError`, as in S3; our own upper bound uses the
    /// same code. A bad trailer is `MalformedTrailerError` in S3; lacking that code we send
    /// `InvalidRequest` with S3's message.
    pub fn s3_code(&self) -> S3ErrorCode {
        match self {
            Self::Truncated
            | Self::HeaderTooLong { .. }
            | Self::MalformedHeader { .. }
            | Self::MissingDataCrlf
            | Self::TrailingData => S3ErrorCode::IncompleteBody,
            Self::ChunkTooLarge { .. } | Self::ChunkTooSmall { .. } => {
                S3ErrorCode::InvalidChunkSizeError
            }
            Self::TrailerTooLarge { .. } | Self::MalformedTrailer { .. } => {
                S3ErrorCode::InvalidRequest
            }
        }
    }
}

impl From<ChunkError> for S3Error {
    fn from(error: ChunkError) -> Self {
        tracing::debug!(%error, "aws-chunked body rejected");
        let code = error.s3_code();
        match error {
            ChunkError::ChunkTooSmall { chunk_number, bad_size_bytes, .. } => S3Error::from(code)
                .with("Chunk", chunk_number.to_string())
                .with("BadChunkSize", bad_size_bytes.to_string()),
            ChunkError::ChunkTooLarge { .. } => S3Error::new(code, error.to_string()),
            ChunkError::TrailerTooLarge { .. } | ChunkError::MalformedTrailer { .. } => {
                S3Error::new(code, MALFORMED_TRAILER_MESSAGE)
            }
            _ => S3Error::new(code, "The request body terminated unexpectedly"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line into `line`.
    Header,
    /// Passing through payload bytes of the current chunk.
    Data { remaining_bytes: u64 },
    /// Expecting the CRLF that closes a chunk's data; `matched` bytes of it seen.
    DataCrlf { matched: u8 },
    /// Reading trailer lines (and the closing empty line) into `line`.
    Trailer,
    /// `End` was emitted; only stray CR/LF may follow.
    Done,
}

/// The decoder: [`push`](Self::push) input, [`finish`](Self::finish) at end of input, and pull
/// [`next_event`](Self::next_event) until it returns `Ok(None)` (needs input) or `End`.
#[derive(Debug)]
pub struct ChunkedDecoder {
    limits: ChunkLimits,
    input: VecDeque<Bytes>,
    state: State,
    /// Bytes of the current header or trailer line, terminator excluded.
    line: Vec<u8>,
    trailer_section_bytes: usize,
    trailer_fields: Vec<(String, String)>,
    trailer_signature: Option<String>,
    pending: VecDeque<ChunkEvent>,
    chunks_seen: u64,
    previous_chunk_size: Option<u64>,
    input_finished: bool,
    error: Option<ChunkError>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new(ChunkLimits::default())
    }
}

impl ChunkedDecoder {
    pub fn new(limits: ChunkLimits) -> Self {
        Self {
            limits,
            input: VecDeque::new(),
            state: State::Header,
            line: Vec::new(),
            trailer_section_bytes: 0,
            trailer_fields: Vec::new(),
            trailer_signature: None,
            pending: VecDeque::new(),
            chunks_seen: 0,
            previous_chunk_size: None,
            input_finished: false,
            error: None,
        }
    }

    /// Appends raw body bytes.
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.input.push_back(data);
        }
    }

    /// Declares that no more input will come; a body not yet complete then fails as truncated.
    pub fn finish(&mut self) {
        self.input_finished = true;
    }

    /// Whether `End` has been emitted.
    pub fn is_done(&self) -> bool {
        self.state == State::Done && self.pending.is_empty()
    }

    /// The next event; `Ok(None)` when more input is needed (or after `End`).
    pub fn next_event(&mut self) -> Result<Option<ChunkEvent>, ChunkError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match self.step() {
            Ok(event) => Ok(event),
            Err(error) => {
                self.error = Some(error.clone());
                self.input.clear();
                self.pending.clear();
                Err(error)
            }
        }
    }

    fn step(&mut self) -> Result<Option<ChunkEvent>, ChunkError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            let progressed = match self.state {
                State::Header => self.read_header()?,
                State::Data { remaining_bytes } => {
                    if remaining_bytes == 0 {
                        self.state = State::DataCrlf { matched: 0 };
                        true
                    } else if let Some(data) = self.take_data(remaining_bytes) {
                        let len = data.len() as u64;
                        self.state = State::Data { remaining_bytes: remaining_bytes - len };
                        return Ok(Some(ChunkEvent::Data(data)));
                    } else {
                        false
                    }
                }
                State::DataCrlf { matched } => self.read_data_crlf(matched)?,
                State::Trailer => self.read_trailer_line()?,
                State::Done => {
                    // Stray line breaks after the closing line are tolerated; anything else
                    // means the client and we disagree about where the body ends.
                    while let Some(byte) = self.pop_byte() {
                        if byte != b'\r' && byte != b'\n' {
                            return Err(ChunkError::TrailingData);
                        }
                    }
                    return Ok(None);
                }
            };
            if !progressed {
                return if self.input_finished { Err(ChunkError::Truncated) } else { Ok(None) };
            }
        }
    }

    fn pop_byte(&mut self) -> Option<u8> {
        let front = self.input.front_mut()?;
        let byte = front.get_u8();
        if front.is_empty() {
            self.input.pop_front();
        }
        Some(byte)
    }

    /// Up to `max` payload bytes from the front buffer, without copying.
    fn take_data(&mut self, max: u64) -> Option<Bytes> {
        let front = self.input.front_mut()?;
        let n = usize::try_from(max).map_or(front.len(), |max| max.min(front.len()));
        let data = front.split_to(n);
        if front.is_empty() {
            self.input.pop_front();
        }
        Some(data)
    }

    /// Moves bytes into `line` up to and including the next `\n`, which is dropped. Returns
    /// `Some(had_cr)` when a full line is in `line` (a trailing `\r` removed), `None` if input ran
    /// out first. `limit` bounds `line`, terminator included.
    fn read_line(&mut self, limit: usize) -> Result<Option<bool>, usize> {
        while let Some(front) = self.input.front_mut() {
            let newline = front.iter().position(|&b| b == b'\n');
            let take = newline.map_or(front.len(), |i| i + 1);
            if self.line.len() + take > limit {
                return Err(limit);
            }
            self.line.extend_from_slice(&front[..take]);
            front.advance(take);
            if front.is_empty() {
                self.input.pop_front();
            }
            if newline.is_some() {
                self.line.pop();
                let had_cr = self.line.last() == Some(&b'\r');
                if had_cr {
                    self.line.pop();
                }
                return Ok(Some(had_cr));
            }
        }
        Ok(None)
    }

    fn read_header(&mut self) -> Result<bool, ChunkError> {
        let limit = self.limits.header_line_bytes_max;
        let had_cr = match self.read_line(limit) {
            Ok(Some(had_cr)) => had_cr,
            Ok(None) => return Ok(false),
            Err(limit_bytes) => return Err(ChunkError::HeaderTooLong { limit_bytes }),
        };
        if !had_cr {
            return Err(ChunkError::MalformedHeader { reason: "line does not end with CRLF" });
        }
        let line = std::mem::take(&mut self.line);
        let (size, signature) = parse_chunk_header(&line)?;
        if size > self.limits.chunk_size_bytes_max {
            return Err(ChunkError::ChunkTooLarge {
                size_bytes: size,
                limit_bytes: self.limits.chunk_size_bytes_max,
            });
        }
        self.chunks_seen += 1;
        // Only now do we know the previous chunk was not the last data chunk.
        if let Some(previous) = self.previous_chunk_size
            && size > 0
            && previous < self.limits.chunk_size_bytes_min
        {
            return Err(ChunkError::ChunkTooSmall {
                chunk_number: self.chunks_seen,
                bad_size_bytes: previous,
                min_bytes: self.limits.chunk_size_bytes_min,
            });
        }
        self.previous_chunk_size = Some(size);
        self.pending.push_back(ChunkEvent::ChunkStart { size, signature });
        if size == 0 {
            self.pending.push_back(ChunkEvent::ChunkEnd);
            self.state = State::Trailer;
        } else {
            self.state = State::Data { remaining_bytes: size };
        }
        Ok(true)
    }

    fn read_data_crlf(&mut self, mut matched: u8) -> Result<bool, ChunkError> {
        while matched < 2 {
            let Some(byte) = self.pop_byte() else {
                self.state = State::DataCrlf { matched };
                return Ok(false);
            };
            let expected = if matched == 0 { b'\r' } else { b'\n' };
            if byte != expected {
                return Err(ChunkError::MissingDataCrlf);
            }
            matched += 1;
        }
        self.pending.push_back(ChunkEvent::ChunkEnd);
        self.state = State::Header;
        Ok(true)
    }

    fn read_trailer_line(&mut self) -> Result<bool, ChunkError> {
        let limit_bytes = self.limits.trailer_section_bytes_max;
        let remaining = limit_bytes.saturating_sub(self.trailer_section_bytes);
        let had_cr = match self.read_line(remaining) {
            Ok(Some(had_cr)) => had_cr,
            Ok(None) => return Ok(false),
            Err(_) => return Err(ChunkError::TrailerTooLarge { limit_bytes }),
        };
        self.trailer_section_bytes += self.line.len() + 1 + usize::from(had_cr);
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            let fields = std::mem::take(&mut self.trailer_fields);
            let signature = self.trailer_signature.take();
            if !fields.is_empty() || signature.is_some() {
                self.pending.push_back(ChunkEvent::Trailers { fields, signature });
            }
            self.pending.push_back(ChunkEvent::End);
            self.state = State::Done;
            return Ok(true);
        }
        if self.trailer_signature.is_some() {
            return Err(ChunkError::MalformedTrailer {
                reason: "a line follows x-amz-trailer-signature",
            });
        }
        let malformed = |reason| ChunkError::MalformedTrailer { reason };
        let text = std::str::from_utf8(&line).map_err(|_| malformed("not UTF-8"))?;
        let (name, value) = text.split_once(':').ok_or(malformed("a line has no ':'"))?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(malformed("a trailer name is not a valid header name"));
        }
        let value = value.trim().to_owned();
        if name == "x-amz-trailer-signature" {
            if !is_signature(value.as_bytes()) {
                return Err(malformed("x-amz-trailer-signature is not 64 hex digits"));
            }
            self.trailer_signature = Some(value);
        } else {
            self.trailer_fields.push((name, value));
        }
        Ok(true)
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_signature(value: &[u8]) -> bool {
    value.len() == 64 && value.iter().all(u8::is_ascii_hexdigit)
}

/// `hex-size[;chunk-signature=<64 hex>]` -> (size, signature).
fn parse_chunk_header(line: &[u8]) -> Result<(u64, Option<String>), ChunkError> {
    let malformed = |reason| ChunkError::MalformedHeader { reason };
    let (size, extension) = match line.iter().position(|&b| b == b';') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    // 16 hex digits already exceed any sane limit; refusing more keeps parsing overflow-free.
    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(malformed("the size is not a hexadecimal number"));
    }
    let size = size.iter().fold(0u64, |acc, &b| {
        // Checked above: every byte is a hex digit, at most 16 of them.
        let digit = (b as char).to_digit(16).unwrap_or(0);
        (acc << 4) | u64::from(digit)
    });
    let signature = match extension {
        None => None,
        Some(extension) => {
            let value = extension
                .strip_prefix(b"chunk-signature=")
                .ok_or(malformed("the only chunk extension allowed is chunk-signature"))?;
            if !is_signature(value) {
                return Err(malformed("chunk-signature is not 64 hex digits"));
            }
            // is_signature guarantees ASCII.
            Some(String::from_utf8_lossy(value).into_owned())
        }
    };
    Ok((size, signature))
}

#[cfg(test)]
mod tests;

//! Goal: the decoder yields the same events however the body is split across pushes, never
//! copies payload, and rejects every framing fault with the documented error. Method: decode
//! AWS's examples and hand-made bodies under many split patterns, compare event summaries.

use super::super::sigv4::test_vectors::{
    Fixture, STREAMING_PUT_OBJECT, STREAMING_TRAILER_PUT_OBJECT,
};
use super::*;

/// Events with adjacent `Data` merged, so differently split inputs compare equal.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Start(u64, Option<String>),
    Data(Vec<u8>),
    End,
    Trailers(Vec<(String, String)>, Option<String>),
    Done,
}

fn drain(decoder: &mut ChunkedDecoder, out: &mut Vec<Ev>) -> Result<(), ChunkError> {
    while let Some(event) = decoder.next_event()? {
        match event {
            ChunkEvent::ChunkStart { size, signature } => out.push(Ev::Start(size, signature)),
            ChunkEvent::Data(data) => {
                assert!(!data.is_empty(), "empty Data event");
                if let Some(Ev::Data(previous)) = out.last_mut() {
                    previous.extend_from_slice(&data);
                } else {
                    out.push(Ev::Data(data.to_vec()));
                }
            }
            ChunkEvent::ChunkEnd => out.push(Ev::End),
            ChunkEvent::Trailers { fields, signature } => out.push(Ev::Trailers(fields, signature)),
            ChunkEvent::End => out.push(Ev::Done),
        }
    }
    Ok(())
}

/// Decodes `body` pushed as the pieces between the given cut positions.
fn decode_cuts(limits: ChunkLimits, body: &[u8], cuts: &[usize]) -> Result<Vec<Ev>, ChunkError> {
    let mut decoder = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        decoder.push(Bytes::copy_from_slice(&body[start..cut]));
        drain(&mut decoder, &mut out)?;
        start = cut;
    }
    decoder.finish();
    drain(&mut decoder, &mut out)?;
    assert!(decoder.is_done());
    Ok(out)
}

fn decode(body: &[u8]) -> Result<Vec<Ev>, ChunkError> {
    decode_cuts(ChunkLimits::default(), body, &[])
}

fn decode_in_pieces(body: &[u8], piece: usize) -> Result<Vec<Ev>, ChunkError> {
    let cuts: Vec<usize> = (piece..body.len()).step_by(piece).collect();
    decode_cuts(ChunkLimits::default(), body, &cuts)
}

fn sig(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn signed_example_events(fixture: &Fixture) -> Vec<Ev> {
    let sigs = fixture.lines("chunk_signatures");
    vec![
        Ev::Start(65_536, sig(&sigs[0])),
        Ev::Data(vec![b'a'; 65_536]),
        Ev::End,
        Ev::Start(1024, sig(&sigs[1])),
        Ev::Data(vec![b'a'; 1024]),
        Ev::End,
        Ev::Start(0, sig(&sigs[2])),
        Ev::End,
    ]
}

/// Cut positions at and around every framing byte (all bytes that are not payload).
fn framing_cuts(body: &[u8]) -> Vec<usize> {
    (1..body.len())
        .filter(|&p| body[p.saturating_sub(3)..(p + 3).min(body.len())].iter().any(|&b| b != b'a'))
        .collect()
}

#[test]
fn aws_signed_example_decodes_however_it_is_split() {
    let fixture = Fixture::parse(STREAMING_PUT_OBJECT);
    let body = fixture.chunked_body(false);
    assert_eq!(body.len(), 66_824, "Content-Length of the AWS example");
    let mut expected = signed_example_events(&fixture);
    expected.push(Ev::Done);
    assert_eq!(decode(&body).unwrap(), expected);
    for piece in [1, 2, 3, 5, 7, 64, 85, 4096, 65_537] {
        assert_eq!(decode_in_pieces(&body, piece).unwrap(), expected, "piece {piece}");
    }
    for cut in framing_cuts(&body) {
        let got = decode_cuts(ChunkLimits::default(), &body, &[cut]).unwrap();
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn aws_signed_trailer_example_decodes_however_it_is_split() {
    let fixture = Fixture::parse(STREAMING_TRAILER_PUT_OBJECT);
    let body = fixture.chunked_body(true);
    let mut expected = signed_example_events(&fixture);
    expected.push(Ev::Trailers(
        vec![("x-amz-checksum-crc32c".into(), "sOO8/Q==".into())],
        sig(fixture.get("trailer_signature")),
    ));
    expected.push(Ev::Done);
    assert_eq!(decode(&body).unwrap(), expected);
    assert_eq!(decode_in_pieces(&body, 1).unwrap(), expected);
    for cut in framing_cuts(&body) {
        assert_eq!(
            decode_cuts(ChunkLimits::default(), &body, &[cut]).unwrap(),
            expected,
            "cut {cut}"
        );
    }
}

fn unsigned_trailer_body() -> Vec<u8> {
    let mut body = b"2A00\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 0x2A00));
    body.extend_from_slice(b"\r\n7\r\nabcdefg\r\n0\r\nX-Amz-Checksum-CRC32 : AAAAAA== \r\n\r\n");
    body
}

#[test]
fn unsigned_trailer_body_decodes() {
    let body = unsigned_trailer_body();
    let expected = vec![
        Ev::Start(0x2A00, None),
        Ev::Data(vec![b'x'; 0x2A00]),
        Ev::End,
        Ev::Start(7, None),
        Ev::Data(b"abcdefg".to_vec()),
        Ev::End,
        Ev::Start(0, None),
        Ev::End,
        Ev::Trailers(vec![("x-amz-checksum-crc32".into(), "AAAAAA==".into())], None),
        Ev::Done,
    ];
    assert_eq!(decode(&body).unwrap(), expected);
    assert_eq!(decode_in_pieces(&body, 1).unwrap(), expected);
    assert_eq!(decode_in_pieces(&body, 13).unwrap(), expected);
}

#[test]
fn small_body_decodes_under_every_two_and_three_way_split() {
    let limits = ChunkLimits { chunk_size_bytes_min: 0, ..ChunkLimits::default() };
    let body = b"3\r\nabc\r\n2;chunk-signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\nde\r\n0\r\nk:v\r\n\r\n";
    let expected = decode_cuts(limits, body, &[]).unwrap();
    assert_eq!(expected.len(), 10);
    for a in 0..=body.len() {
        assert_eq!(decode_cuts(limits, body, &[a]).unwrap(), expected, "cut {a}");
        for b in a..=body.len() {
            assert_eq!(decode_cuts(limits, body, &[a, b]).unwrap(), expected, "cuts {a} {b}");
        }
    }
}

#[test]
fn data_events_are_slices_of_pushed_input() {
    let body = Bytes::from(unsigned_trailer_body());
    let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
    let mut decoder = ChunkedDecoder::default();
    decoder.push(body.clone());
    decoder.finish();
    let mut data_events = 0;
    while let Some(event) = decoder.next_event().unwrap() {
        if let ChunkEvent::Data(data) = event {
            assert!(range.contains(&(data.as_ptr() as usize)), "Data was copied");
            data_events += 1;
        }
    }
    assert_eq!(data_events, 2, "one slice per chunk when the input is one buffer");
}

#[test]
fn a_big_chunk_streams_before_it_is_complete() {
    let mut decoder = ChunkedDecoder::default();
    decoder.push(Bytes::from_static(b"100000\r\n"));
    decoder.push(Bytes::from(vec![b'z'; 10]));
    assert_eq!(
        decoder.next_event().unwrap(),
        Some(ChunkEvent::ChunkStart { size: 0x10_0000, signature: None })
    );
    assert_eq!(decoder.next_event().unwrap(), Some(ChunkEvent::Data(Bytes::from(vec![b'z'; 10]))));
    assert_eq!(decoder.next_event().unwrap(), None);
}

#[test]
fn lenient_endings_are_accepted() {
    let limits = ChunkLimits { chunk_size_bytes_min: 0, ..ChunkLimits::default() };
    let base = [Ev::Start(1, None), Ev::Data(b"a".to_vec()), Ev::End, Ev::Start(0, None), Ev::End];
    let trailer = Ev::Trailers(vec![("x-amz-checksum-crc32".into(), "s3SFCQ==".into())], None);
    // Trailer lines ending in a bare LF, and extra line breaks after the closing line.
    for body in [
        &b"1\r\na\r\n0\r\nx-amz-checksum-crc32:s3SFCQ==\n\r\n\r\n"[..],
        b"1\r\na\r\n0\r\nx-amz-checksum-crc32:s3SFCQ==\n\n",
        b"1\r\na\r\n0\r\nx-amz-checksum-crc32:s3SFCQ==\r\n\r\n\r\n\n",
    ] {
        let mut expected: Vec<Ev> = base.iter().map(clone_ev).collect();
        expected.push(clone_ev(&trailer));
        expected.push(Ev::Done);
        assert_eq!(decode_cuts(limits, body, &[]).unwrap(), expected, "{body:?}");
    }
    let mut expected: Vec<Ev> = base.iter().map(clone_ev).collect();
    expected.push(Ev::Done);
    assert_eq!(decode_cuts(limits, b"1\r\na\r\n0\r\n\r\n", &[]).unwrap(), expected);
}

fn clone_ev(ev: &Ev) -> Ev {
    match ev {
        Ev::Start(s, g) => Ev::Start(*s, g.clone()),
        Ev::Data(d) => Ev::Data(d.clone()),
        Ev::End => Ev::End,
        Ev::Trailers(f, s) => Ev::Trailers(f.clone(), s.clone()),
        Ev::Done => Ev::Done,
    }
}

fn error_of(body: &[u8]) -> ChunkError {
    let limits = ChunkLimits { chunk_size_bytes_min: 4, ..ChunkLimits::default() };
    decode_cuts(limits, body, &[]).unwrap_err()
}

#[test]
fn bad_framing_is_rejected() {
    let sig64 = "0".repeat(64);
    let long_header = format!("5;{}\r\n", "x".repeat(5000));
    let long_trailer = format!("0\r\nk:{}\r\n\r\n", "v".repeat(17_000));
    let many_trailers = format!("0\r\n{}\r\n", "k:v\r\n".repeat(4000));
    let cases: Vec<(Vec<u8>, ChunkError)> = vec![
        (
            b"zz\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            b"\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            b" 5\r\nabcde\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            b"-5\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            b"00000000000000005\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            format!(";chunk-signature={sig64}\r\n").into_bytes(),
            ChunkError::MalformedHeader { reason: "the size is not a hexadecimal number" },
        ),
        (
            b"5\nabcde\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "line does not end with CRLF" },
        ),
        (
            b"5;foo=bar\r\nabcde\r\n".to_vec(),
            ChunkError::MalformedHeader {
                reason: "the only chunk extension allowed is chunk-signature",
            },
        ),
        (
            b"5;chunk-signature=abc\r\n".to_vec(),
            ChunkError::MalformedHeader { reason: "chunk-signature is not 64 hex digits" },
        ),
        (
            format!("5;chunk-signature={}\r\n", "g".repeat(64)).into_bytes(),
            ChunkError::MalformedHeader { reason: "chunk-signature is not 64 hex digits" },
        ),
        (long_header.into_bytes(), ChunkError::HeaderTooLong { limit_bytes: 4096 }),
        (
            b"4000001\r\n".to_vec(),
            ChunkError::ChunkTooLarge { size_bytes: 0x400_0001, limit_bytes: 64 << 20 },
        ),
        (
            b"FFFFFFFFFFFFFFFF\r\n".to_vec(),
            ChunkError::ChunkTooLarge { size_bytes: u64::MAX, limit_bytes: 64 << 20 },
        ),
        (b"5\r\nabcdeX\r\n".to_vec(), ChunkError::MissingDataCrlf),
        (b"5\r\nabcde\rX".to_vec(), ChunkError::MissingDataCrlf),
        (b"5\r\nabcde\n".to_vec(), ChunkError::MissingDataCrlf),
        (b"5\r\nabcdef\r\n".to_vec(), ChunkError::MissingDataCrlf),
        (
            b"3\r\nabc\r\n5\r\nabcde\r\n".to_vec(),
            ChunkError::ChunkTooSmall { chunk_number: 2, bad_size_bytes: 3, min_bytes: 4 },
        ),
        (
            b"0\r\nno-colon\r\n\r\n".to_vec(),
            ChunkError::MalformedTrailer { reason: "a line has no ':'" },
        ),
        (
            b"0\r\n:v\r\n\r\n".to_vec(),
            ChunkError::MalformedTrailer { reason: "a trailer name is not a valid header name" },
        ),
        (
            b"0\r\nbad name:v\r\n\r\n".to_vec(),
            ChunkError::MalformedTrailer { reason: "a trailer name is not a valid header name" },
        ),
        (b"0\r\nk:\xff\r\n\r\n".to_vec(), ChunkError::MalformedTrailer { reason: "not UTF-8" }),
        (
            format!("0\r\nx-amz-trailer-signature:{sig64}\r\nk:v\r\n\r\n").into_bytes(),
            ChunkError::MalformedTrailer { reason: "a line follows x-amz-trailer-signature" },
        ),
        (
            b"0\r\nx-amz-trailer-signature:abc\r\n\r\n".to_vec(),
            ChunkError::MalformedTrailer { reason: "x-amz-trailer-signature is not 64 hex digits" },
        ),
        (long_trailer.into_bytes(), ChunkError::TrailerTooLarge { limit_bytes: 16_384 }),
        (many_trailers.into_bytes(), ChunkError::TrailerTooLarge { limit_bytes: 16_384 }),
        (b"0\r\n\r\nextra".to_vec(), ChunkError::TrailingData),
        (b"0\r\n\r\n\r\n0\r\n\r\n".to_vec(), ChunkError::TrailingData),
    ];
    for (body, expected) in cases {
        assert_eq!(error_of(&body), expected, "{:?}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn the_last_data_chunk_may_be_small() {
    let limits = ChunkLimits { chunk_size_bytes_min: 4, ..ChunkLimits::default() };
    assert!(decode_cuts(limits, b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n", &[]).is_ok());
    assert!(decode_cuts(limits, b"2\r\nef\r\n0\r\n\r\n", &[]).is_ok());
}

#[test]
fn every_truncation_is_detected() {
    let fixture = Fixture::parse(STREAMING_TRAILER_PUT_OBJECT);
    for body in [unsigned_trailer_body(), fixture.chunked_body(true)] {
        // Every prefix that ends in framing (payload-only prefixes behave the same way).
        for end in framing_cuts(&body).into_iter().chain([0, body.len() - 1]) {
            let got = decode_cuts(ChunkLimits::default(), &body[..end], &[]);
            assert_eq!(got.unwrap_err(), ChunkError::Truncated, "prefix of {end} bytes");
        }
    }
    // The closing empty line is required, as S3 requires it.
    assert_eq!(decode(b"0\r\n").unwrap_err(), ChunkError::Truncated);
    assert_eq!(decode(b"0\r\nk:v\r\n").unwrap_err(), ChunkError::Truncated);
    assert_eq!(decode(b"").unwrap_err(), ChunkError::Truncated);
}

#[test]
fn errors_are_sticky() {
    let mut decoder = ChunkedDecoder::default();
    decoder.push(Bytes::from_static(b"zz\r\n"));
    let first = decoder.next_event().unwrap_err();
    decoder.push(Bytes::from_static(b"0\r\n\r\n"));
    assert_eq!(decoder.next_event().unwrap_err(), first);
}

#[test]
fn errors_map_to_s3_codes() {
    let truncated = S3Error::from(ChunkError::Truncated);
    assert_eq!(truncated.code, S3ErrorCode::IncompleteBody);
    assert_eq!(ChunkError::MissingDataCrlf.s3_code(), S3ErrorCode::IncompleteBody);
    assert_eq!(ChunkError::MalformedHeader { reason: "r" }.s3_code(), S3ErrorCode::IncompleteBody);
    let small = S3Error::from(ChunkError::ChunkTooSmall {
        chunk_number: 2,
        bad_size_bytes: 5,
        min_bytes: 8192,
    });
    assert_eq!(small.code, S3ErrorCode::InvalidChunkSizeError);
    assert_eq!(small.message, "Only the last chunk is allowed to have a size less than 8192 bytes");
    assert_eq!(small.extra, [("Chunk", "2".to_owned()), ("BadChunkSize", "5".to_owned())]);
    let trailer = S3Error::from(ChunkError::MalformedTrailer { reason: "r" });
    assert_eq!(trailer.code, S3ErrorCode::InvalidRequest);
    assert_eq!(trailer.message, MALFORMED_TRAILER_MESSAGE);
    let large = ChunkError::ChunkTooLarge { size_bytes: 1, limit_bytes: 0 };
    assert_eq!(large.s3_code(), S3ErrorCode::InvalidChunkSizeError);
}

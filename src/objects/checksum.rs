//! S3 additional checksums (`x-amz-checksum-*`): the algorithm names, incremental
//! computation over a body, and validation of client-supplied values.
//!
//! Invariants: a finished checksum has exactly [`ChecksumAlgorithm::digest_len`] bytes; CRCs
//! are big-endian, which is how AWS SDKs encode them before base64. `ChecksumAlgorithm` is
//! persisted, so variants are only ever appended (binary encodings store the index).
//!
//! This module belongs to the object layer: no HTTP, no XML, no S3 error codes. Callers map
//! `None`/mismatch to `InvalidDigest`/`BadDigest`. Composite (per-part) checksums of
//! multipart uploads are assembled elsewhere from these primitives.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

/// The checksum algorithms S3 accepts, named as in `x-amz-checksum-algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    #[serde(rename = "CRC32")]
    Crc32,
    #[serde(rename = "CRC32C")]
    Crc32c,
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The AWS name: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Parses an algorithm name in any ASCII case (`CRC32`, `crc32c`, `Sha256`...).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algo| algo.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The lowercase header carrying a value of this algorithm, e.g. `x-amz-checksum-crc32`.
    #[must_use]
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm whose value header is `name` (any ASCII case). Other
    /// `x-amz-checksum-*` headers (`-algorithm`, `-type`, `-mode`) are not values: `None`.
    #[must_use]
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algo| algo.header_name().eq_ignore_ascii_case(name))
    }

    /// Length in bytes of a raw (not base64) checksum of this algorithm.
    #[must_use]
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Incremental checksum over a body that arrives in pieces.
#[derive(Clone)]
pub struct Checksummer {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksummer {
    #[must_use]
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Self { state }
    }

    #[must_use]
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            State::Crc64Nvme(h) => h.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The raw checksum, [`ChecksumAlgorithm::digest_len`] bytes, CRCs big-endian.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            State::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The checksum as it travels in `x-amz-checksum-*` headers: standard base64, padded.
    #[must_use]
    pub fn finish_base64(self) -> String {
        BASE64.encode(self.finish())
    }
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer").field("algorithm", &self.algorithm()).finish()
    }
}

/// One-shot checksum of a whole buffer.
#[must_use]
pub fn checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut summer = Checksummer::new(algorithm);
    summer.update(data);
    summer.finish()
}

/// The reflected generator polynomial of a CRC algorithm, and its width's top bit.
fn crc_parameters(algorithm: ChecksumAlgorithm) -> Option<(u64, u64)> {
    match algorithm {
        ChecksumAlgorithm::Crc32 => Some((0xEDB8_8320, 1 << 31)),
        ChecksumAlgorithm::Crc32c => Some((0x82F6_3B78, 1 << 31)),
        ChecksumAlgorithm::Crc64Nvme => Some((0x9A6C_9329_AC4B_C9B5, 1 << 63)),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// `a * b mod p` over GF(2), in the reflected bit order CRCs use (`top` is x^0).
fn mul_mod(a: u64, mut b: u64, poly: u64, top: u64) -> u64 {
    let mut m = top;
    let mut product = 0;
    while m != 0 {
        if a & m != 0 {
            product ^= b;
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
    }
    product
}

/// `x^(8 * len) mod p`: the factor that shifts a CRC past `len` bytes.
fn shift_factor(mut len: u64, poly: u64, top: u64) -> u64 {
    // x^(2^k), starting at k = 3 (x^8: one byte).
    let mut power = top >> 1; // x^1
    for _ in 0..3 {
        power = mul_mod(power, power, poly, top);
    }
    let mut factor = top; // x^0
    while len != 0 {
        if len & 1 != 0 {
            factor = mul_mod(power, factor, poly, top);
        }
        len >>= 1;
        power = mul_mod(power, power, poly, top);
    }
    factor
}

/// The CRC of `a || b` from the CRCs of `a` and `b` and the length of `b`, for the CRC
/// algorithms (raw big-endian values, as `Checksummer::finish` gives them). `None` for SHA
/// algorithms, which cannot be combined. This is what makes a full-object CRC of a multipart
/// upload computable from its parts without reading them again.
#[must_use]
pub fn combine_crc(
    algorithm: ChecksumAlgorithm,
    a: &[u8],
    b: &[u8],
    b_len: u64,
) -> Option<Vec<u8>> {
    let (poly, top) = crc_parameters(algorithm)?;
    let width = algorithm.digest_len();
    if a.len() != width || b.len() != width {
        return None;
    }
    let to_u64 = |raw: &[u8]| raw.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
    let combined = mul_mod(shift_factor(b_len, poly, top), to_u64(a), poly, top) ^ to_u64(b);
    Some(combined.to_be_bytes()[8 - width..].to_vec())
}

/// Decodes a client-supplied base64 value; `None` if it is not standard padded base64 or
/// not the right length for `algorithm` (S3 answers `InvalidRequest`/`InvalidDigest`).
#[must_use]
pub fn decode_checksum_value(algorithm: ChecksumAlgorithm, base64: &str) -> Option<Vec<u8>> {
    let raw = BASE64.decode(base64.trim()).ok()?;
    (raw.len() == algorithm.digest_len()).then_some(raw)
}

/// Encodes a raw checksum for a header or an XML element.
#[must_use]
pub fn encode_checksum_value(raw: &[u8]) -> String {
    BASE64.encode(raw)
}

#[cfg(test)]
mod combine_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn combined_crcs_equal_the_crc_of_the_concatenation(
            a in proptest::collection::vec(any::<u8>(), 0..300),
            b in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            for algorithm in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
                let whole = checksum(algorithm, &[a.clone(), b.clone()].concat());
                let combined = combine_crc(algorithm, &checksum(algorithm, &a), &checksum(algorithm, &b), b.len() as u64);
                prop_assert_eq!(Some(whole), combined, "{:?}", algorithm);
            }
        }
    }

    #[test]
    fn sha_checksums_do_not_combine() {
        assert!(combine_crc(ChecksumAlgorithm::Sha256, &[0; 32], &[0; 32], 1).is_none());
    }
}

#[cfg(test)]
mod tests {
    //! Goal: byte-exact agreement with the published check values and with what AWS SDKs
    //! put in `x-amz-checksum-*` headers.
    //! Method: known-answer vectors, then properties (chunking does not matter; encode and
    //! decode are inverse; length validation per algorithm).

    use proptest::prelude::*;

    use super::*;

    fn hex_of(algo: ChecksumAlgorithm, data: &[u8]) -> String {
        hex::encode(checksum(algo, data))
    }

    fn b64_of(algo: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut summer = Checksummer::new(algo);
        summer.update(data);
        summer.finish_base64()
    }

    #[test]
    fn standard_check_values_for_123456789() {
        // The "check" values of the CRC catalogue for the ASCII string "123456789".
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32, b"123456789"), "cbf43926");
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32c, b"123456789"), "e3069283");
        assert_eq!(hex_of(ChecksumAlgorithm::Crc64Nvme, b"123456789"), "ae8b14860a799888");
    }

    #[test]
    fn hello_world_known_answers() {
        let data = b"hello world";
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32, data), "0d4a1185");
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32c, data), "c99465aa");
        assert_eq!(
            hex_of(ChecksumAlgorithm::Sha1, data),
            "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
        );
        assert_eq!(
            hex_of(ChecksumAlgorithm::Sha256, data),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(b64_of(ChecksumAlgorithm::Crc32, data), "DUoRhQ==");
        assert_eq!(b64_of(ChecksumAlgorithm::Crc32c, data), "yZRlqg==");
        assert_eq!(b64_of(ChecksumAlgorithm::Sha1, data), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(
            b64_of(ChecksumAlgorithm::Sha256, data),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
    }

    #[test]
    fn header_values_match_what_aws_sdks_send_for_test_data() {
        // The AWS SDK for Rust checks these decoded header values for the body "test data".
        let data = b"test data";
        let sdk_hex = [
            (ChecksumAlgorithm::Crc32, "d308aeb2"),
            (ChecksumAlgorithm::Crc32c, "3379b4ca"),
            (ChecksumAlgorithm::Crc64Nvme, "aecaf3af9c98a855"),
            (ChecksumAlgorithm::Sha1, "f48dd853820860816c75d54d0f584dc863327a7c"),
            (
                ChecksumAlgorithm::Sha256,
                "916f0027a575074ce72a331777c3478d6513f786a591bd892da1a577bf2335f9",
            ),
        ];
        for (algo, expected) in sdk_hex {
            let header = b64_of(algo, data);
            let decoded = decode_checksum_value(algo, &header).unwrap();
            assert_eq!(hex::encode(decoded), expected, "{algo}");
        }
        assert_eq!(b64_of(ChecksumAlgorithm::Crc32, data), "0wiusg==");
        assert_eq!(b64_of(ChecksumAlgorithm::Crc64Nvme, data), "rsrzr5yYqFU=");
    }

    #[test]
    fn empty_body_checksums() {
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32, b""), "00000000");
        assert_eq!(hex_of(ChecksumAlgorithm::Crc32c, b""), "00000000");
        assert_eq!(hex_of(ChecksumAlgorithm::Crc64Nvme, b""), "0000000000000000");
        assert_eq!(
            b64_of(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn names_and_headers() {
        for algo in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(algo.as_str()), Some(algo));
            assert_eq!(ChecksumAlgorithm::from_name(&algo.as_str().to_lowercase()), Some(algo));
            assert_eq!(ChecksumAlgorithm::from_header_name(algo.header_name()), Some(algo));
            assert_eq!(
                ChecksumAlgorithm::from_header_name(&algo.header_name().to_uppercase()),
                Some(algo)
            );
            assert_eq!(
                algo.header_name(),
                format!("x-amz-checksum-{}", algo.as_str().to_lowercase())
            );
            assert_eq!(checksum(algo, b"x").len(), algo.digest_len());
        }
        assert_eq!(ChecksumAlgorithm::from_name("Crc64Nvme"), Some(ChecksumAlgorithm::Crc64Nvme));
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::from_name(""), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-algorithm"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-type"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("content-md5"), None);
    }

    #[test]
    fn serde_uses_aws_names() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as ValueError, StrDeserializer};
        for algo in ChecksumAlgorithm::ALL {
            let de: StrDeserializer<'_, ValueError> = algo.as_str().into_deserializer();
            assert_eq!(ChecksumAlgorithm::deserialize(de), Ok(algo));
        }
        let de: StrDeserializer<'_, ValueError> = "Crc32".into_deserializer();
        assert!(ChecksumAlgorithm::deserialize(de).is_err());
    }

    #[test]
    fn decode_validates_length_and_encoding() {
        assert_eq!(
            decode_checksum_value(ChecksumAlgorithm::Crc32, "DUoRhQ=="),
            Some(vec![0x0d, 0x4a, 0x11, 0x85])
        );
        // Right encoding, wrong algorithm length.
        assert_eq!(decode_checksum_value(ChecksumAlgorithm::Crc64Nvme, "DUoRhQ=="), None);
        assert_eq!(decode_checksum_value(ChecksumAlgorithm::Sha256, "DUoRhQ=="), None);
        // Not base64, unpadded, URL-safe alphabet, empty.
        assert_eq!(decode_checksum_value(ChecksumAlgorithm::Crc32, "not base64!"), None);
        assert_eq!(decode_checksum_value(ChecksumAlgorithm::Crc32, "DUoRhQ"), None);
        assert_eq!(
            decode_checksum_value(ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2-lfQIuc6R7oRu0="),
            None
        );
        assert_eq!(decode_checksum_value(ChecksumAlgorithm::Crc32, ""), None);
    }

    fn any_algorithm() -> impl Strategy<Value = ChecksumAlgorithm> {
        proptest::sample::select(ChecksumAlgorithm::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_the_checksum(
            algo in any_algorithm(),
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut summer = Checksummer::new(algo);
            let mut from = 0;
            for to in points {
                summer.update(&data[from..to]);
                from = to;
            }
            summer.update(&data[from..]);
            prop_assert_eq!(summer.finish(), checksum(algo, &data));
        }

        #[test]
        fn encode_then_decode_is_identity(algo in any_algorithm(), data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let raw = checksum(algo, &data);
            prop_assert_eq!(decode_checksum_value(algo, &encode_checksum_value(&raw)), Some(raw));
        }
    }
}

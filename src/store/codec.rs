//! On-disk encoding of store values, behind an explicit `FORMAT_VERSION` so that a future
//! layout change can read old files instead of misreading them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::causality::Siblings;

use super::StoreError;

/// Version of the value encoding. Bump it (and keep a decoder for the old one) on any change.
pub const FORMAT_VERSION: u8 = 1;

pub fn encode_siblings(siblings: &Siblings) -> Result<Vec<u8>, StoreError> {
    encode(siblings, "siblings")
}

pub fn decode_siblings(bytes: &[u8]) -> Result<Siblings, StoreError> {
    decode(bytes, "siblings")
}

/// `[FORMAT_VERSION][postcard]`: how every structured store value is kept; `what` names it
/// in errors.
pub fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_VERSION];
    let body = postcard::to_allocvec(value)
        .map_err(|e| StoreError::Corrupt { what: format!("encoding {what}: {e}") })?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    decode_prefix(bytes, what).map(|(value, _)| value)
}

/// Like `decode`, for a value followed by more bytes: returns those too.
pub fn decode_prefix<'a, T: DeserializeOwned>(
    bytes: &'a [u8],
    what: &str,
) -> Result<(T, &'a [u8]), StoreError> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, body)) => postcard::take_from_bytes(body)
            .map_err(|e| StoreError::Corrupt { what: format!("decoding {what}: {e}") }),
        Some((v, _)) => Err(StoreError::Corrupt { what: format!("unknown format version {v}") }),
        None => Err(StoreError::Corrupt { what: format!("empty {what} value") }),
    }
}

/// A counter kept in the meta table as 8 big-endian bytes (the last minted clock entry, the
/// consensus fence); absent or malformed reads as 0.
pub fn decode_meta_u64(bytes: Option<&[u8]>) -> u64 {
    bytes.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes)
}

/// Bytes a stored block takes beyond its data: the checksum in front.
pub const BLOCK_OVERHEAD: usize = 4;

#[cfg(test)]
pub fn encode_block(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0; data.len() + BLOCK_OVERHEAD];
    encode_block_into(data, &mut out);
    out
}

/// Writes the stored form of `data` into `out` (`data.len() + BLOCK_OVERHEAD` bytes, such as
/// space reserved in the table's page, so that the block is copied once).
pub fn encode_block_into(data: &[u8], out: &mut [u8]) {
    let (crc, rest) = out.split_at_mut(BLOCK_OVERHEAD);
    crc.copy_from_slice(&crc32c::crc32c(data).to_le_bytes());
    rest.copy_from_slice(data);
}

/// Returns the block's data after checking its checksum.
pub fn decode_block(stored: &[u8]) -> Result<&[u8], StoreError> {
    let (crc, data) = stored
        .split_at_checked(4)
        .ok_or_else(|| StoreError::Corrupt { what: "block shorter than its checksum".into() })?;
    let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(data) == expected {
        Ok(data)
    } else {
        Err(StoreError::Corrupt { what: "block checksum mismatch".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causality::{Sibling, VectorClock};

    #[test]
    fn siblings_round_trip_and_reject_unknown_versions() {
        let mut s = Siblings::new();
        let mut clock = VectorClock::new();
        clock.set(7, 3);
        s.apply(Sibling { clock, timestamp_ms: 5, writer: 7, value: Some(vec![1, 2, 3]) });
        let bytes = encode_siblings(&s).unwrap();
        assert_eq!(decode_siblings(&bytes).unwrap(), s);
        let mut future = bytes.clone();
        future[0] = FORMAT_VERSION + 1;
        assert!(decode_siblings(&future).is_err());
    }

    #[test]
    fn a_flipped_bit_in_a_block_is_detected() {
        let mut stored = encode_block(b"hello block");
        assert_eq!(decode_block(&stored).unwrap(), b"hello block");
        stored[6] ^= 1;
        assert!(decode_block(&stored).is_err());
    }
}

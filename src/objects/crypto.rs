//! Server-side encryption at rest: SSE-C (the client's key), SSE-S3 (the cluster's master key)
//! and SSE-KMS (named keys of a local keyring, which is not a KMS: no audit, no rotation, no
//! grants; it lets KMS-speaking clients and tests work).
//!
//! Every encrypted body gets a fresh random 256-bit data key. Its blocks are sealed with
//! AES-256-GCM under that key, the nonce made of the body's data id and the block's index, and
//! the block's identity as associated data, so a block cannot be moved to another place
//! unnoticed. The data key is stored only wrapped: sealed under a one-time key derived
//! (HMAC-SHA256) from the key-encryption key and a random salt, so no nonce is ever reused
//! however many objects one master key protects. For SSE-C, unwrapping is the key check: the
//! GCM tag is a MAC under the customer's key, and nothing else about the key is stored.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Error;

/// Bytes of every key here (AES-256).
pub const KEY_BYTES: usize = 32;
/// Bytes a sealed block or body adds to its plaintext (the GCM tag).
pub const TAG_BYTES: usize = 16;
/// The block index an inline body is sealed under (no block of a real body has it).
const INLINE_INDEX: u32 = u32::MAX;
const SALT_BYTES: usize = 32;
/// The name under which a keyring key serves SSE-KMS requests that name no key, as AWS's
/// managed key does.
pub const DEFAULT_KMS_KEY: &str = "aws/s3";

/// 256 bits of key material; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_BYTES]);

impl SecretKey {
    /// The key in `bytes`, if it is exactly 256 bits.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SecretKey)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<withheld>)")
    }
}

/// The encryption a write asks for (or a bucket's default encryption gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-C: the client's key, which is never stored.
    Customer(SecretKey),
    /// SSE-S3 (`AES256`): the cluster's master key.
    Managed,
    /// SSE-KMS: a named key of the keyring (`None`: the default key, `aws/s3`).
    Kms { key_id: Option<String> },
}

impl Encryption {
    /// The client's key, for SSE-C (answers echo its MD5).
    pub fn customer_key(&self) -> Option<&SecretKey> {
        match self {
            Encryption::Customer(key) => Some(key),
            _ => None,
        }
    }
}

/// Which kind of key a body's data key is wrapped under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    Customer,
    Managed,
    Kms,
}

impl Scheme {
    fn label(self) -> &'static str {
        match self {
            Scheme::Customer => "customer",
            Scheme::Managed => "managed",
            Scheme::Kms => "kms",
        }
    }
}

/// How a stored body is encrypted, kept in its version's record: the data key wrapped under a
/// key-encryption key (`salt || sealed key || tag`, base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    pub scheme: Scheme,
    /// The keyring key (SSE-KMS), as the writer named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub wrapped: String,
}

/// The cipher of one body's blocks (and of every part of a multipart upload).
#[derive(Clone)]
pub struct BodyCipher(Arc<Aes256Gcm>);

impl std::fmt::Debug for BodyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyCipher")
    }
}

impl BodyCipher {
    fn new(key: &SecretKey) -> Self {
        BodyCipher(Arc::new(Aes256Gcm::new(key.as_bytes().into())))
    }

    /// Seals block `index` of body `data_id`.
    pub fn seal_block(&self, data_id: &[u8; 16], index: u32, plain: &[u8]) -> Vec<u8> {
        let (nonce, aad) = block_nonce(data_id, index);
        self.0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: &aad })
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any block under 64 GiB"))
    }

    /// Opens block `index` of body `data_id`; a block that does not authenticate is corrupt
    /// (or was moved).
    pub fn open_block(
        &self,
        data_id: &[u8; 16],
        index: u32,
        sealed: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let (nonce, aad) = block_nonce(data_id, index);
        self.0.decrypt(Nonce::from_slice(&nonce), Payload { msg: sealed, aad: &aad }).map_err(
            |_| Error::Corrupt {
                what: format!("block {index} of an encrypted body does not authenticate"),
            },
        )
    }

    pub fn seal_inline(&self, data_id: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        self.seal_block(data_id, INLINE_INDEX, plain)
    }

    pub fn open_inline(&self, data_id: &[u8; 16], sealed: &[u8]) -> Result<Vec<u8>, Error> {
        self.open_block(data_id, INLINE_INDEX, sealed)
    }
}

/// The nonce and associated data of a block: unique per (body, index) under one data key.
fn block_nonce(data_id: &[u8; 16], index: u32) -> ([u8; 12], [u8; 20]) {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&data_id[..8]);
    nonce[8..].copy_from_slice(&index.to_be_bytes());
    let mut aad = [0u8; 20];
    aad[..16].copy_from_slice(data_id);
    aad[16..].copy_from_slice(&index.to_be_bytes());
    (nonce, aad)
}

/// The key-encryption keys a node holds (the master key for SSE-S3, the named keys of the
/// local keyring for SSE-KMS) and the entropy source for data keys.
#[derive(Debug)]
pub struct Keyring {
    master: Option<SecretKey>,
    named: BTreeMap<String, SecretKey>,
    rng: Mutex<StdRng>,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring::new(None, BTreeMap::new(), StdRng::from_os_rng())
    }
}

impl Keyring {
    /// `rng` makes data keys and salts: seeded from the OS, except in deterministic tests.
    pub fn new(master: Option<SecretKey>, named: BTreeMap<String, SecretKey>, rng: StdRng) -> Self {
        Keyring { master, named, rng: Mutex::new(rng) }
    }

    /// Parses a keyring file: TOML lines `name = "<base64 of 32 bytes>"`.
    pub fn parse_named(text: &str) -> Result<BTreeMap<String, SecretKey>, String> {
        let table: BTreeMap<String, String> =
            toml::from_str(text).map_err(|e| format!("not a keyring (name = \"base64\"): {e}"))?;
        table
            .into_iter()
            .map(|(name, value)| {
                let key = B64
                    .decode(value.trim())
                    .ok()
                    .and_then(|b| SecretKey::from_slice(&b))
                    .ok_or_else(|| format!("key {name:?} is not the base64 of 32 bytes"))?;
                Ok((name, key))
            })
            .collect()
    }

    pub fn has_master(&self) -> bool {
        self.master.is_some()
    }

    /// The keyring key an SSE-KMS id names: its name, or an ARN ending in `key/<name>`.
    fn kms_key(&self, key_id: &str) -> Option<&SecretKey> {
        self.named.get(key_id).or_else(|| {
            let (_, name) = key_id.rsplit_once(":key/")?;
            self.named.get(name)
        })
    }

    /// Whether an SSE-KMS key id names a key of this keyring.
    pub fn knows_kms_key(&self, key_id: &str) -> bool {
        self.kms_key(key_id).is_some()
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner).fill_bytes(&mut out);
        out
    }

    /// The key-encryption key of a scheme, and the key id recorded with it.
    fn kek<'a>(
        &'a self,
        request: &'a Encryption,
    ) -> Result<(Scheme, Option<String>, &'a SecretKey), Error> {
        match request {
            Encryption::Customer(key) => Ok((Scheme::Customer, None, key)),
            Encryption::Managed => {
                let key = self.master.as_ref().ok_or(Error::EncryptionUnavailable {
                    what: "SSE-S3 needs a master key: start every node with --master-key-file"
                        .into(),
                })?;
                Ok((Scheme::Managed, None, key))
            }
            Encryption::Kms { key_id } => {
                let id = key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
                let key =
                    self.kms_key(id).ok_or_else(|| Error::NoSuchKmsKey { key_id: id.into() })?;
                Ok((Scheme::Kms, Some(id.to_owned()), key))
            }
        }
    }

    /// A fresh data key for a new body, wrapped under the key `request` names.
    pub fn new_data_key(&self, request: &Encryption) -> Result<(SealedKey, BodyCipher), Error> {
        let (scheme, kms_key_id, kek) = self.kek(request)?;
        let data_key = SecretKey(self.random::<KEY_BYTES>());
        let salt = self.random::<SALT_BYTES>();
        let aad = wrap_aad(scheme, kms_key_id.as_deref());
        let sealed = wrapping_cipher(kek, &salt)
            .encrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: data_key.as_bytes(), aad: &aad })
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts 32 bytes"));
        let mut wrapped = salt.to_vec();
        wrapped.extend_from_slice(&sealed);
        let sealed = SealedKey { scheme, kms_key_id, wrapped: B64.encode(wrapped) };
        Ok((sealed, BodyCipher::new(&data_key)))
    }

    /// The cipher of a stored body. An SSE-C body needs the customer's key; a wrong one is
    /// `WrongCustomerKey`, found by the wrapped key failing to authenticate.
    pub fn unlock(
        &self,
        sealed: &SealedKey,
        customer: Option<&SecretKey>,
    ) -> Result<BodyCipher, Error> {
        let kek = match sealed.scheme {
            Scheme::Customer => customer.ok_or(Error::CustomerKeyRequired)?,
            Scheme::Managed => self.kek(&Encryption::Managed)?.2,
            Scheme::Kms => {
                let id = sealed.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
                self.kms_key(id).ok_or_else(|| Error::EncryptionUnavailable {
                    what: format!("the keyring has no key {id:?} to decrypt this object"),
                })?
            }
        };
        let wrapped = B64
            .decode(&sealed.wrapped)
            .ok()
            .filter(|w| w.len() == SALT_BYTES + KEY_BYTES + TAG_BYTES)
            .ok_or_else(|| Error::Corrupt { what: "a wrapped data key is malformed".into() })?;
        let (salt, body) = wrapped.split_at(SALT_BYTES);
        let aad = wrap_aad(sealed.scheme, sealed.kms_key_id.as_deref());
        let data_key = wrapping_cipher(kek, salt)
            .decrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: body, aad: &aad })
            .ok()
            .and_then(|k| SecretKey::from_slice(&k));
        match (data_key, sealed.scheme) {
            (Some(key), _) => Ok(BodyCipher::new(&key)),
            (None, Scheme::Customer) => Err(Error::WrongCustomerKey),
            (None, _) => Err(Error::Corrupt {
                what: "a data key does not unwrap under the key that should protect it".into(),
            }),
        }
    }
}

/// A one-time wrapping cipher: HMAC-SHA256(kek, label || salt) as the AES key, so its only
/// nonce (zero) is never reused.
fn wrapping_cipher(kek: &SecretKey, salt: &[u8]) -> Aes256Gcm {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(kek.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"ringvault/wrap/v1/");
    mac.update(salt);
    let key: [u8; 32] = mac.finalize().into_bytes().into();
    Aes256Gcm::new((&key).into())
}

fn wrap_aad(scheme: Scheme, kms_key_id: Option<&str>) -> Vec<u8> {
    let mut aad = b"ringvault/data-key/v1/".to_vec();
    aad.extend_from_slice(scheme.label().as_bytes());
    aad.push(b'/');
    aad.extend_from_slice(kms_key_id.unwrap_or("").as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        let named = BTreeMap::from([("k1".to_owned(), SecretKey([7; 32]))]);
        Keyring::new(Some(SecretKey([9; 32])), named, StdRng::seed_from_u64(1))
    }

    #[test]
    fn blocks_round_trip_and_do_not_move() {
        let ring = keyring();
        let (_, cipher) = ring.new_data_key(&Encryption::Managed).unwrap();
        let id = [3u8; 16];
        let sealed = cipher.seal_block(&id, 2, b"hello");
        assert_eq!(sealed.len(), 5 + TAG_BYTES);
        assert_ne!(&sealed[..5], b"hello");
        assert_eq!(cipher.open_block(&id, 2, &sealed).unwrap(), b"hello");
        assert!(cipher.open_block(&id, 3, &sealed).is_err(), "another index");
        assert!(cipher.open_block(&[4; 16], 2, &sealed).is_err(), "another body");
        let inline = cipher.seal_inline(&id, b"x");
        assert_eq!(cipher.open_inline(&id, &inline).unwrap(), b"x");
    }

    #[test]
    fn a_customer_key_unlocks_only_with_itself() {
        let ring = keyring();
        let key = SecretKey([1; 32]);
        let (sealed, cipher) = ring.new_data_key(&Encryption::Customer(key.clone())).unwrap();
        assert!(!sealed.wrapped.contains(&B64.encode(key.as_bytes())));
        let block = cipher.seal_block(&[0; 16], 0, b"data");
        let again = ring.unlock(&sealed, Some(&key)).unwrap();
        assert_eq!(again.open_block(&[0; 16], 0, &block).unwrap(), b"data");
        assert!(matches!(
            ring.unlock(&sealed, Some(&SecretKey([2; 32]))),
            Err(Error::WrongCustomerKey)
        ));
        assert!(matches!(ring.unlock(&sealed, None), Err(Error::CustomerKeyRequired)));
    }

    #[test]
    fn managed_and_kms_keys_unwrap_on_any_node_with_the_same_keys() {
        let (a, b) = (keyring(), keyring());
        for request in [Encryption::Managed, Encryption::Kms { key_id: Some("k1".into()) }] {
            let (sealed, cipher) = a.new_data_key(&request).unwrap();
            let block = cipher.seal_block(&[5; 16], 1, b"abc");
            let other = b.unlock(&sealed, None).unwrap();
            assert_eq!(other.open_block(&[5; 16], 1, &block).unwrap(), b"abc");
        }
        let arn = Encryption::Kms { key_id: Some("arn:aws:kms:us-east-1:1:key/k1".into()) };
        assert!(a.new_data_key(&arn).is_ok());
    }

    #[test]
    fn missing_keys_are_clear_errors() {
        let bare = Keyring::new(None, BTreeMap::new(), StdRng::seed_from_u64(2));
        assert!(matches!(
            bare.new_data_key(&Encryption::Managed),
            Err(Error::EncryptionUnavailable { .. })
        ));
        let unknown = Encryption::Kms { key_id: Some("nope".into()) };
        assert!(matches!(bare.new_data_key(&unknown), Err(Error::NoSuchKmsKey { .. })));
        let default = Encryption::Kms { key_id: None };
        assert!(matches!(bare.new_data_key(&default), Err(Error::NoSuchKmsKey { .. })));
    }

    #[test]
    fn data_keys_differ_per_body() {
        let ring = keyring();
        let (a, _) = ring.new_data_key(&Encryption::Managed).unwrap();
        let (b, _) = ring.new_data_key(&Encryption::Managed).unwrap();
        assert_ne!(a.wrapped, b.wrapped);
    }

    #[test]
    fn keyring_files_parse_and_reject_short_keys() {
        let good = format!("testkey-1 = \"{}\"\n", B64.encode([1u8; 32]));
        assert!(Keyring::parse_named(&good).unwrap().contains_key("testkey-1"));
        assert!(Keyring::parse_named("k = \"c2hvcnQ=\"").is_err());
        assert!(Keyring::parse_named("not toml").is_err());
    }
}

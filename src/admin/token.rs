//! The admin bearer token. It is compared in constant time and never printed: `Debug` withholds
//! it, and the only way to read it is the explicitly named `expose`.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Random bytes in a generated token (rendered as 64 hex characters).
const GENERATED_BYTES: usize = 32;

#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// A fresh random token from the node's injected RNG.
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; GENERATED_BYTES];
        rng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The token itself, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token. Both sides are hashed first, so the comparison takes
    /// the same time whatever the length or content of the guess, and the XOR fold has no early
    /// exit.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented);
        let diff = expected.iter().zip(presented.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl AdminToken {
    /// HMAC-SHA256 of `message` keyed by the token: signs what the token holder hands out
    /// (a download link), so that only the node that has the token could have made it.
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Whether `signature` is [`AdminToken::sign`] of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(message);
        mac.verify_slice(signature).is_ok()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<withheld>)")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("correct-horse-battery".into());
        assert!(token.matches(b"correct-horse-battery"));
        assert!(!token.matches(b"correct-horse-batterY"));
        assert!(!token.matches(b"correct-horse-battery "));
        assert!(!token.matches(b""));
    }

    #[test]
    fn a_signature_holds_only_for_its_message_and_token() {
        let token = AdminToken::new("correct-horse-battery".into());
        let signature = token.sign(b"bucket\nkey\n1700000000");
        assert!(token.verify(b"bucket\nkey\n1700000000", &signature));
        assert!(!token.verify(b"bucket\nkey\n1700000001", &signature));
        assert!(!AdminToken::new("another".into()).verify(b"bucket\nkey\n1700000000", &signature));
        assert!(!token.verify(b"bucket\nkey\n1700000000", &signature[..31]));
    }

    #[test]
    fn generated_tokens_are_long_distinct_and_never_debug_printed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = AdminToken::generate(&mut rng);
        let b = AdminToken::generate(&mut rng);
        assert_eq!(a.expose().len(), 2 * GENERATED_BYTES);
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}

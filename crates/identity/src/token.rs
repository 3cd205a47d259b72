//! The token format. A token is its own record, signed with HMAC-SHA256 under a key
//! every server of the cloud shares, so validating one needs no database write
//! (as with Keystone's Fernet tokens). Revocation is checked apart, against
//! revocation events.
//!
//! Wire form: `base64url(payload JSON) "." base64url(HMAC-SHA256(key, first part))`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token was scoped to, by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Unscoped,
    Project(String),
    Domain(String),
    System,
}

/// Everything a token carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPayload {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "m")]
    pub methods: Vec<String>,
    #[serde(rename = "s")]
    pub scope: TokenScope,
    /// Issued at, microseconds since the epoch.
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Expires at, microseconds since the epoch.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// This token's audit id, then the audit id of the chain it was rescoped from.
    #[serde(rename = "a")]
    pub audit_ids: Vec<String>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub app_cred_id: Option<String>,
}

/// The signing key, 32 random bytes.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    pub fn generate() -> Self {
        TokenKey(rand::random::<[u8; 32]>().to_vec())
    }

    pub fn from_encoded(s: &str) -> Option<Self> {
        B64.decode(s).ok().filter(|k| k.len() == 32).map(TokenKey)
    }

    pub fn encoded(&self) -> String {
        B64.encode(&self.0)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    pub fn sign(&self, payload: &TokenPayload) -> String {
        let body = B64.encode(serde_json::to_vec(payload).expect("payload serializes"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// The payload of a token this key signed; `None` for anything else. Expiry is
    /// the caller's to check.
    pub fn verify(&self, token: &str) -> Option<TokenPayload> {
        let (body, sig) = token.split_once('.')?;
        let sig = B64.decode(sig).ok()?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).ok()?;
        serde_json::from_slice(&B64.decode(body).ok()?).ok()
    }
}

/// A new audit id: 16 random bytes in URL-safe base64, as Keystone makes them.
pub fn new_audit_id() -> String {
    B64.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> TokenPayload {
        TokenPayload {
            user_id: "u1".into(),
            methods: vec!["password".into()],
            scope: TokenScope::Project("p1".into()),
            issued_at: 1,
            expires_at: 2,
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
        }
    }

    #[test]
    fn signed_token_round_trips() {
        let key = TokenKey::generate();
        let token = key.sign(&payload());
        let mut expected = payload();
        expected.audit_ids = key.verify(&token).unwrap().audit_ids;
        assert_eq!(key.verify(&token), Some(expected));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let key = TokenKey::generate();
        let token = key.sign(&payload());
        assert!(TokenKey::generate().verify(&token).is_none());
        let mut forged = payload();
        forged.user_id = "admin".into();
        let forged_body = key.sign(&forged);
        let (body, _) = forged_body.split_once('.').unwrap();
        let (_, sig) = token.split_once('.').unwrap();
        assert!(key.verify(&format!("{body}.{sig}")).is_none());
        assert!(key.verify("garbage").is_none());
        assert!(key.verify("a.b").is_none());
    }

    #[test]
    fn key_encoding_round_trips() {
        let key = TokenKey::generate();
        let again = TokenKey::from_encoded(&key.encoded()).unwrap();
        let p = payload();
        assert_eq!(again.sign(&p), key.sign(&p));
        assert!(TokenKey::from_encoded("short").is_none());
    }

    #[test]
    fn audit_ids_look_like_keystones() {
        assert_eq!(new_audit_id().len(), 22);
    }
}

//! The keys in emailed links, derived from the server's secret instead of
//! stored: an outbox row names what to link to, and the worker derives the
//! key when it sends, so no link key is ever written to the database.
//! Servers sharing a database share the secret (the ticket signing key).

use crate::session::hex;
use crate::ticket_codes::TicketSigner;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// 128 bits (32 hex characters): the length of every link key.
const KEY_BYTES: usize = 16;

#[derive(Clone)]
pub struct LinkKeys {
    secret: [u8; 32],
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys(..)")
    }
}

impl LinkKeys {
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// The keys of this deployment, from its ticket signing key.
    pub fn from_signer(signer: &TicketSigner) -> Self {
        Self::new(signer.derive_secret("tessera email links v1"))
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(message.as_bytes());
        mac
    }

    fn derive(&self, message: &str) -> String {
        hex(&self.mac(message).finalize().into_bytes()[..KEY_BYTES])
    }

    /// The key that opens a purchase's tickets without signing in: it is
    /// in the ticket email and lasts as long as the tickets.
    pub fn tickets(&self, purchase_id: i64) -> String {
        self.derive(&format!("tickets:{purchase_id}"))
    }

    /// Whether `key` (lowercase hex, as [`Self::tickets`] writes it) opens
    /// `purchase_id`'s tickets, checked by HMAC's own constant-time
    /// comparison, as session ids and queue challenges are.
    pub fn opens_tickets(&self, purchase_id: i64, key: &str) -> bool {
        let lowercase_hex = key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let Some(tag) = hex::decode(key).ok().filter(|_| lowercase_hex) else {
            return false;
        };
        tag.len() == KEY_BYTES
            && self
                .mac(&format!("tickets:{purchase_id}"))
                .verify_truncated_left(&tag)
                .is_ok()
    }

    /// The token of an account link (confirmation, claim, password reset)
    /// for `email` that stops working at `expires_at`. The account keeps
    /// only its SHA-256 and expiry, and a new link replaces the old one, so
    /// the token works once and until then.
    pub fn account_link(&self, email: &str, expires_at: i64) -> String {
        self.derive(&format!("account-link:{email}:{expires_at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::LinkKeys;

    #[test]
    fn a_tickets_key_opens_only_its_purchase_and_only_under_its_secret() {
        let keys = LinkKeys::new([7; 32]);
        let key = keys.tickets(42);
        assert_eq!(key.len(), 32);
        assert!(keys.opens_tickets(42, &key));
        assert!(!keys.opens_tickets(43, &key));
        assert!(!keys.opens_tickets(42, &key[..31]));
        assert!(!keys.opens_tickets(42, &key[..30]));
        assert!(!keys.opens_tickets(42, &key.to_uppercase()));
        assert!(!LinkKeys::new([8; 32]).opens_tickets(42, &key));
    }

    #[test]
    fn account_links_differ_by_email_and_expiry() {
        let keys = LinkKeys::new([7; 32]);
        let link = keys.account_link("a@example.com", 1000);
        assert_ne!(link, keys.account_link("b@example.com", 1000));
        assert_ne!(link, keys.account_link("a@example.com", 1001));
        assert_eq!(link, keys.account_link("a@example.com", 1000));
    }
}

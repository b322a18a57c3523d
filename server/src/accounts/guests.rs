//! Session keys known never to be signed in, so a guest's request (a
//! waiting-room poll, a seat-map hold) costs no database read to learn so.
//!
//! Why a key, once known to be a guest's, stays one on every server: a
//! sign-in is stored only under a key minted for it at that moment
//! ([`super::store::start_session`] with a rotated session), which no
//! request can have carried before. A key with no stored sign-in therefore
//! never gains one. Only that absence is remembered here; a key with a
//! sign-in is read every time, so signing out, expiry and a disabled
//! account take effect at once.

use std::collections::HashSet;
use std::sync::Mutex;

/// More keys than this and the set starts again empty (about 100 bytes
/// each): a bound on memory; forgetting only costs a read.
const MAX_KEYS: usize = 500_000;

#[derive(Debug, Default)]
pub struct GuestSessions {
    keys: Mutex<HashSet<String>>,
}

impl GuestSessions {
    pub fn known(&self, session_key: &str) -> bool {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(session_key)
    }

    /// Remembers a key that has no stored sign-in.
    pub fn remember(&self, session_key: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(session_key.to_string());
    }
}

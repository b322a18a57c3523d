//! Outgoing email. Development has no mail server, so messages are written
//! to the server log (with their links) and the last few are kept for the
//! tests that follow a link. A real mail adapter would sit behind `send`.

use std::collections::VecDeque;
use std::sync::Mutex;

const KEPT: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Mailer {
    sent: Mutex<VecDeque<Mail>>,
}

impl Mailer {
    pub fn send(&self, mail: Mail) {
        tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "email (development: logged, not sent)");
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        if sent.len() == KEPT {
            sent.pop_front();
        }
        sent.push_back(mail);
    }

    /// The latest message sent to `to`.
    pub fn last_to(&self, to: &str) -> Option<Mail> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().rev().find(|mail| mail.to == to).cloned()
    }
}

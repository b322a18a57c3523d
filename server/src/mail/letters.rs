//! Outbox rows rendered into messages, plain text and HTML, at send time
//! (so the links carry keys derived then, never stored).

use super::links::LinkKeys;
use super::outbox::{LetterKind, OutboxRow};
use super::Mail;
use crate::clock::format_ms;
use crate::on_pool;
use crate::store::{Store, StoreError};
use app::staff::RefundPolicy;
use app::types::format_cents;

/// What rendering needs besides the row.
#[derive(Clone, Debug)]
pub struct Renderer {
    pub store: Store,
    pub keys: LinkKeys,
    /// The site's base URL as buyers reach it, without a trailing slash.
    pub public_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The row names something that is gone or was never there: sending
    /// it again will not help.
    #[error("cannot render: {0}")]
    Unrenderable(String),
}

impl From<sqlx::Error> for RenderError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

#[derive(sqlx::FromRow)]
struct PurchaseFacts {
    event_name: String,
    venue_name: String,
    starts_at: i64,
    #[sqlx(try_from = "String")]
    refund_policy: RefundPolicy,
    total_cents: i64,
    failure: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TicketFacts {
    id: i64,
    section: String,
    row_label: String,
    number: i64,
    price_cents: i64,
    code: String,
}

impl Renderer {
    pub async fn render(&self, row: &OutboxRow) -> Result<Mail, RenderError> {
        let kind = LetterKind::parse(&row.kind)
            .ok_or_else(|| RenderError::Unrenderable(format!("unknown kind {}", row.kind)))?;
        let (subject, body, html) = match kind {
            LetterKind::Tickets => self.tickets(row).await?,
            LetterKind::Refund => self.refund(row).await?,
            LetterKind::ConfirmEmail | LetterKind::ClaimAccount | LetterKind::PasswordReset => {
                self.account_link(kind, row)?
            }
        };
        Ok(Mail {
            to: row.recipient.clone(),
            subject,
            body,
            html: page(&html),
        })
    }

    fn purchase_id(row: &OutboxRow) -> Result<i64, RenderError> {
        row.purchase_id
            .ok_or_else(|| RenderError::Unrenderable("no purchase".into()))
    }

    async fn purchase_facts(&self, purchase_id: i64) -> Result<PurchaseFacts, RenderError> {
        let facts: Option<PurchaseFacts> = on_pool!(&self.store, pool => sqlx::query_as(
            "SELECT e.name AS event_name, v.name AS venue_name, e.starts_at, e.refund_policy, \
             p.total_cents, p.failure FROM purchases p JOIN events e ON e.id = p.event_id \
             JOIN venues v ON v.id = e.venue_id WHERE p.id = $1",
        )
        .bind(purchase_id)
        .fetch_optional(pool)
        .await)?;
        facts.ok_or_else(|| RenderError::Unrenderable(format!("no purchase {purchase_id}")))
    }

    /// The sale: every ticket with its seat, code and QR image, the link
    /// that opens them without an account, the receipt and refund policy.
    async fn tickets(&self, row: &OutboxRow) -> Result<(String, String, String), RenderError> {
        let purchase_id = Self::purchase_id(row)?;
        let facts = self.purchase_facts(purchase_id).await?;
        let tickets: Vec<TicketFacts> = on_pool!(&self.store, pool => sqlx::query_as(
            "SELECT tk.id, sec.name AS section, s.row_label, s.number, t.price_cents, tk.code \
             FROM tickets tk JOIN seats s ON s.id = tk.seat_id \
             JOIN sections sec ON sec.id = s.section_id JOIN price_tiers t ON t.id = s.tier_id \
             WHERE tk.purchase_id = $1 AND tk.status IN ('valid', 'used') ORDER BY tk.id",
        )
        .bind(purchase_id)
        .fetch_all(pool)
        .await)?;
        let key = self.keys.tickets(purchase_id);
        let link = format!("{}/purchases/{purchase_id}?key={key}", self.public_url);
        let policy = facts.refund_policy.describe();
        let when = format_ms(facts.starts_at);
        let subject = format!("Your tickets: {}", facts.event_name);

        let mut body = format!(
            "Your tickets for {} at {}, {when}.\n\nOpen them any time, no account needed:\n{link}\n\n",
            facts.event_name, facts.venue_name
        );
        let mut rows = String::new();
        for ticket in &tickets {
            let seat = format!(
                "Section {}, row {}, seat {}",
                ticket.section, ticket.row_label, ticket.number
            );
            body.push_str(&format!(
                "- {seat} ({}): {}\n",
                format_cents(ticket.price_cents),
                ticket.code
            ));
            let qr = format!(
                "{}/api/tickets/{}/qr.svg?key={key}",
                self.public_url, ticket.id
            );
            rows.push_str(&format!(
                "<tr><td>{}<br><small>{}</small></td><td>{}</td>\
                 <td><img src=\"{}\" width=\"160\" height=\"160\" alt=\"QR code of ticket {}\"></td></tr>",
                escape(&seat),
                escape(&ticket.code),
                escape(&format_cents(ticket.price_cents)),
                escape(&qr),
                ticket.id
            ));
        }
        body.push_str(&format!(
            "\nReceipt: purchase {purchase_id}, {} ticket(s), {} paid.\n{policy}\n\n\
             Show each ticket's code (or its QR image on the tickets page) at the gate.\n",
            tickets.len(),
            format_cents(facts.total_cents)
        ));
        let html = format!(
            "<h1>Your tickets</h1><p>{} at {}, {}.</p>\
             <p><a href=\"{}\">Open your tickets</a> (no account needed).</p>\
             <table>{rows}</table>\
             <p>Receipt: purchase {purchase_id}, {} ticket(s), {} paid.</p><p>{}</p>",
            escape(&facts.event_name),
            escape(&facts.venue_name),
            escape(&when),
            escape(&link),
            tickets.len(),
            escape(&format_cents(facts.total_cents)),
            escape(policy)
        );
        Ok((subject, body, html))
    }

    async fn refund(&self, row: &OutboxRow) -> Result<(String, String, String), RenderError> {
        let purchase_id = Self::purchase_id(row)?;
        let facts = self.purchase_facts(purchase_id).await?;
        let why = match facts.failure.as_deref() {
            Some(_) => "We could not give you the seats you paid for, so the payment was refunded.",
            None => "Your tickets were cancelled and their seats are back on sale.",
        };
        let subject = format!("Refund: {}", facts.event_name);
        let body = format!(
            "{} has been refunded to the card you paid with (purchase {purchase_id}, {} for {}). \
             {why}\nYour bank may take a few days to show it.\n",
            format_cents(facts.total_cents),
            format_cents(facts.total_cents),
            facts.event_name
        );
        let html = format!("<h1>Refund</h1><p>{}</p>", escape(&body));
        Ok((subject, body, html))
    }

    fn account_link(
        &self,
        kind: LetterKind,
        row: &OutboxRow,
    ) -> Result<(String, String, String), RenderError> {
        let expires_at = row
            .link_expires_at
            .ok_or_else(|| RenderError::Unrenderable("no link expiry".into()))?;
        let token = self.keys.account_link(&row.recipient, expires_at);
        let until = format_ms(expires_at);
        let (subject, path, text) = match kind {
            LetterKind::ConfirmEmail => (
                "Confirm your Tessera email",
                "account/confirm",
                "Open this link to confirm this address. Tickets bought as a guest with it will \
                 then appear under My tickets.",
            ),
            LetterKind::ClaimAccount => (
                "Claim your Tessera account",
                "account/confirm",
                "Someone asked to create a Tessera account with this address, which already has \
                 an account whose email was never confirmed. If that was you, open this link and \
                 choose a password: the account becomes yours, and anyone signed in to it is \
                 signed out. If it was not you, ignore this email.",
            ),
            _ => (
                "Reset your Tessera password",
                "account/reset",
                "Someone asked to reset the password of the Tessera account with this address. \
                 If that was you, open this link and choose a new password: everyone signed in \
                 to the account is signed out. The link works once. If it was not you, ignore \
                 this email; your password stays as it is.",
            ),
        };
        let link = format!("{}/{path}?token={token}", self.public_url);
        let body = format!("{text}\n\n{link}\n\nThe link works until {until}.\n");
        let html = format!(
            "<p>{}</p><p><a href=\"{}\">{}</a></p><p>The link works until {}.</p>",
            escape(text),
            escape(&link),
            escape(subject),
            escape(&until)
        );
        Ok((subject.to_string(), body, html))
    }
}

fn page(content: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif\">{content}</body></html>"
    )
}

/// Text made safe inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_from_staff_cannot_write_html() {
        assert_eq!(
            super::escape("<b>\"Rock\" & 'Roll'</b>"),
            "&lt;b&gt;&quot;Rock&quot; &amp; &#39;Roll&#39;&lt;/b&gt;"
        );
    }
}

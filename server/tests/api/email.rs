//! Email over a real SMTP conversation: a local SMTP server (mailin) runs
//! inside the test, the app sends to it with `TESSERA_SMTP_URL`, and the
//! test reads what arrived — the ticket email and its link, password reset
//! links, and exactly one email per sale across a crash and two servers.

use crate::common;

use common::{add_event, add_venue, fresh_database_url, seat_ids, spawn_app_with, Buyer, TestApp};
use mailin_embedded::{response, Handler, Response, Server, SslConfig};
use reqwest::Method;
use serde_json::json;
use server::config::Config;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One message as the SMTP server received it.
#[derive(Clone, Debug)]
struct Received {
    to: Vec<String>,
    data: String,
}

/// Collects every message of every connection.
#[derive(Clone, Default)]
struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Received {
                to: std::mem::take(&mut self.to),
                data: String::from_utf8_lossy(&self.data).into_owned(),
            });
        response::OK
    }
}

impl Inbox {
    /// Starts an SMTP server on a free port; its `smtp://` URL.
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
        let url = format!("smtp://{}", listener.local_addr().expect("SMTP address"));
        let mut server = Server::new(self.clone());
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        url
    }

    /// Messages to `to` whose subject starts with `subject`.
    fn messages(&self, to: &str, subject: &str) -> Vec<Received> {
        let wanted = format!("Subject: {subject}");
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to) && m.data.contains(&wanted))
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) for `count` such messages.
    async fn wait_for(&self, to: &str, subject: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let found = self.messages(to, subject);
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {count} email(s) {subject:?} to {to} arrived");
    }
}

/// The message's text with quoted-printable soft breaks and escapes undone
/// (lettre encodes long lines that way).
fn decoded(message: &Received) -> String {
    message.data.replace("=\r\n", "").replace("=3D", "=")
}

/// The first `http://…` link in the message that contains `path`.
fn link(message: &Received, path: &str) -> String {
    decoded(message)
        .split_whitespace()
        .find(|word| word.starts_with("http") && word.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in {}", message.data))
        .trim_end_matches(['"', '>', '.'])
        .to_string()
}

async fn mailing_app(database_url: String, smtp_url: &str, poll_ms: u64) -> TestApp {
    let mut config = Config::for_database(database_url);
    config.smtp_url = Some(smtp_url.to_string());
    config.mail_from = "Tessera <tickets@tessera.test>".into();
    config.mail_poll_ms = poll_ms;
    spawn_app_with(config).await
}

/// A guest buys two seats; the purchase's id.
async fn guest_buys(app: &TestApp, email: &str) -> i64 {
    guest_buys_as(&mut Buyer::new(app), email).await
}

/// `guest` buys two seats; the purchase's id.
async fn guest_buys_as(guest: &mut Buyer<'_>, email: &str) -> i64 {
    let app = guest.app;
    let venue = add_venue(app.store(), "Mail Hall", "Leeds").await;
    let event = add_event(app.store(), venue, "Mailed Show", 20).await;
    let seats = seat_ids(app, event).await;
    let hold = guest.held(event, &seats[..2]).await;
    let body = json!({"email": email, "payment": {"token": "tok_visa"}});
    let (status, purchase) = guest
        .purchase_with(hold.hold_id, "mail-test-key-1", body)
        .await;
    assert_eq!(status, 201, "{purchase}");
    purchase["purchase_id"].as_i64().expect("purchase id")
}

#[tokio::test]
async fn a_guest_purchase_mails_one_ticket_email_whose_link_opens_the_tickets() {
    let inbox = Inbox::default();
    let smtp = inbox.start();
    let app = mailing_app(fresh_database_url().await, &smtp, 100).await;
    let purchase_id = guest_buys(&app, "guest@example.com").await;

    let emails = inbox.wait_for("guest@example.com", "Your tickets", 1).await;
    let email = &emails[0];
    assert!(
        email.data.contains("multipart/alternative"),
        "{}",
        email.data
    );
    assert!(email.data.contains("text/html"), "{}", email.data);
    assert!(
        decoded(email).contains("Section"),
        "seat list: {}",
        email.data
    );
    assert!(
        decoded(email).contains("TK1."),
        "ticket codes: {}",
        email.data
    );
    assert!(
        decoded(email).contains("Refunds:"),
        "refund policy: {}",
        email.data
    );
    let tickets_link = link(email, &format!("/purchases/{purchase_id}?key="));
    let key = tickets_link.split("key=").nth(1).expect("key");

    // Another device, no cookie, no account: the link's key opens them.
    let stranger = reqwest::Client::new();
    let api = app.url(&format!("/api/purchases/{purchase_id}?key={key}"));
    let opened = stranger.get(&api).send().await.expect("request");
    assert_eq!(opened.status(), 200);
    let view: serde_json::Value = opened.json().await.expect("JSON");
    assert_eq!(view["tickets"].as_array().map(Vec::len), Some(2), "{view}");
    let ticket_id = &view["tickets"][0]["id"];
    let qr = stranger
        .get(app.url(&format!("/api/tickets/{ticket_id}/qr.svg?key={key}")))
        .send()
        .await
        .expect("request");
    assert_eq!(qr.status(), 200);
    // The page the link names is served too.
    let page = stranger.get(&tickets_link).send().await.expect("request");
    assert_eq!(page.status(), 200);

    // Without the key, or with another purchase's, nothing.
    let wrong = "0".repeat(32);
    for url in [
        app.url(&format!("/api/purchases/{purchase_id}")),
        app.url(&format!("/api/purchases/{purchase_id}?key={wrong}")),
        app.url(&format!("/api/purchases/{}?key={key}", purchase_id + 1)),
    ] {
        let refused = stranger.get(&url).send().await.expect("request");
        assert_eq!(refused.status(), 404, "{url}");
    }

    // One sale, one email, however often the worker looks.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(inbox.messages("guest@example.com", "Your tickets").len(), 1);
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_then_is_dead() {
    let inbox = Inbox::default();
    let smtp = inbox.start();
    let app = mailing_app(fresh_database_url().await, &smtp, 100).await;
    let mut fan = Buyer::new(&app);
    let (status, _) = fan
        .send(
            Method::POST,
            "/api/auth/register",
            Some(json!({"email": "reset@example.com", "password": "first password", "display_name": "Reset Fan"})),
        )
        .await;
    assert_eq!(status, 201);
    inbox
        .wait_for("reset@example.com", "Confirm your Tessera email", 1)
        .await;

    // Unknown addresses get the same answer and no email.
    let mut stranger = Buyer::new(&app);
    for email in ["reset@example.com", "nobody@example.com"] {
        let (status, _) = stranger
            .send(
                Method::POST,
                "/api/auth/password-reset",
                Some(json!({ "email": email })),
            )
            .await;
        assert_eq!(status, 202);
    }
    let emails = inbox
        .wait_for("reset@example.com", "Reset your Tessera password", 1)
        .await;
    let reset_link = link(&emails[0], "/account/reset?token=");
    let token = reset_link.split("token=").nth(1).expect("token");

    let reset = |password: &'static str| json!({"token": token, "new_password": password});
    let (status, body) = stranger
        .send(
            Method::POST,
            "/api/auth/password-reset/confirm",
            Some(reset("second password")),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // The old session is signed out; the new password signs in, the old not.
    let (status, _) = fan.send(Method::GET, "/api/me", None).await;
    assert_eq!(status, 401);
    let login =
        |password: &'static str| json!({"email": "reset@example.com", "password": password});
    let mut again = Buyer::new(&app);
    assert_eq!(
        again
            .send(
                Method::POST,
                "/api/auth/login",
                Some(login("first password"))
            )
            .await
            .0,
        401
    );
    assert_eq!(
        again
            .send(
                Method::POST,
                "/api/auth/login",
                Some(login("second password"))
            )
            .await
            .0,
        200
    );
    // The link is used up.
    let (status, _) = stranger
        .send(
            Method::POST,
            "/api/auth/password-reset/confirm",
            Some(reset("third password")),
        )
        .await;
    assert_eq!(status, 404);
    // The page the link names is served.
    let page = reqwest::get(&reset_link).await.expect("request");
    assert_eq!(page.status(), 200);
    assert!(inbox.messages("nobody@example.com", "").is_empty());
}

/// A server that commits a sale and dies before sending its email: the
/// email is in the outbox with the sale, and the servers that run after it
/// (two, both sending) deliver it exactly once.
#[tokio::test]
async fn a_crash_between_the_sale_and_the_send_still_sends_exactly_one_email() {
    let inbox = Inbox::default();
    let smtp = inbox.start();
    let database_url = fresh_database_url().await;
    // The first server never sends: it stands for one killed right after
    // the sale committed.
    let crashed = mailing_app(database_url.clone(), &smtp, 0).await;
    guest_buys(&crashed, "crash@example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(inbox
        .messages("crash@example.com", "Your tickets")
        .is_empty());
    assert_eq!(
        server::mail::outbox::unsent(crashed.store())
            .await
            .expect("outbox"),
        1
    );

    let first = mailing_app(database_url.clone(), &smtp, 50).await;
    let second = mailing_app(database_url, &smtp, 50).await;
    inbox.wait_for("crash@example.com", "Your tickets", 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(inbox.messages("crash@example.com", "Your tickets").len(), 1);
    for app in [&first, &second] {
        assert_eq!(
            server::mail::outbox::unsent(app.store())
                .await
                .expect("outbox"),
            0
        );
    }
}

/// An SMTP server that cannot be reached: the letter stays in the outbox
/// with its error, to be tried again later, and nothing is lost.
#[tokio::test]
async fn a_letter_the_smtp_server_refused_waits_for_a_retry() {
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let smtp = format!("smtp://{}", closed.local_addr().expect("address"));
    drop(closed);
    let app = mailing_app(fresh_database_url().await, &smtp, 0).await;
    guest_buys(&app, "later@example.com").await;
    assert_eq!(app.state.mail.round().await, 1);
    let (attempts, error, due_in, failed): (i64, Option<String>, i64, Option<i64>) =
        server::on_pool!(app.store(), pool => sqlx::query_as(
            "SELECT attempts, last_error, next_attempt_at - $1, failed_at FROM outbox",
        )
        .bind(server::clock::now_ms())
        .fetch_one(pool)
        .await)
        .expect("outbox row");
    assert_eq!(attempts, 1);
    assert!(
        error.is_some_and(|e| e.contains("SMTP")),
        "the error is kept"
    );
    assert!(
        (5_000..=10_000).contains(&due_in),
        "retried in about 10 s: {due_in}"
    );
    assert_eq!(failed, None);
    assert_eq!(app.state.mail.round().await, 0, "not due again yet");
}

/// A refund is confirmed by email, after the ticket email.
#[tokio::test]
async fn a_refund_is_confirmed_by_email() {
    let inbox = Inbox::default();
    let smtp = inbox.start();
    let app = mailing_app(fresh_database_url().await, &smtp, 100).await;
    let mut guest = Buyer::new(&app);
    let purchase_id = guest_buys_as(&mut guest, "refund@example.com").await;
    inbox
        .wait_for("refund@example.com", "Your tickets", 1)
        .await;
    let (status, refunded) = guest
        .send(
            Method::POST,
            &format!("/api/purchases/{purchase_id}/refund"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    let emails = inbox.wait_for("refund@example.com", "Refund:", 1).await;
    assert!(
        decoded(&emails[0]).contains(&format!("purchase {purchase_id}")),
        "{}",
        emails[0].data
    );
}

/// Staff can send a purchase's tickets again; a fan cannot.
#[tokio::test]
async fn staff_resend_a_ticket_email() {
    let inbox = Inbox::default();
    let smtp = inbox.start();
    let app = mailing_app(fresh_database_url().await, &smtp, 100).await;
    let purchase_id = guest_buys(&app, "again@example.com").await;
    inbox.wait_for("again@example.com", "Your tickets", 1).await;
    let path = format!("/api/staff/purchases/{purchase_id}/resend-tickets");
    let mut fan = Buyer::new(&app);
    assert_eq!(fan.send(Method::POST, &path, None).await.0, 401);
    let mut staff =
        common::signed_in_member(&app, "box-office@example.com", app::types::Role::Staff).await;
    assert_eq!(staff.send(Method::POST, &path, None).await.0, 202);
    inbox.wait_for("again@example.com", "Your tickets", 2).await;
    let missing = format!("/api/staff/purchases/{}/resend-tickets", purchase_id + 100);
    assert_eq!(staff.send(Method::POST, &missing, None).await.0, 404);
}

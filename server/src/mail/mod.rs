//! Outgoing email. What is to be sent is a row in the outbox ([`outbox`]),
//! written in the same transaction as the sale, refund or link it
//! announces; a worker ([`worker`]) renders it ([`letters`]) and hands it
//! to the [`Mailer`]: SMTP when `TESSERA_SMTP_URL` is set, otherwise the
//! server log (development and demo mode).

pub mod letters;
pub mod links;
pub mod outbox;
pub mod worker;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Messages the log mailer keeps for tests that follow a link.
const KEPT: usize = 100;

/// One rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The plain-text part; also what the log mailer prints.
    pub body: String,
    /// The HTML part.
    pub html: String,
}

/// Where mail goes.
pub enum Mailer {
    /// Printed to the server log. With `bodies`, the text (and its links)
    /// is printed too — development only: in production a link in a log is
    /// a key in a log.
    Log {
        bodies: bool,
        sent: Mutex<VecDeque<Mail>>,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log { bodies, .. } => write!(f, "Mailer::Log {{ bodies: {bodies} }}"),
            Self::Smtp { from, .. } => write!(f, "Mailer::Smtp {{ from: {from} }}"),
        }
    }
}

impl Mailer {
    pub fn log(bodies: bool) -> Self {
        Self::Log {
            bodies,
            sent: Mutex::default(),
        }
    }

    /// An SMTP mailer from `smtp://user:pass@host:port` (no encryption: a
    /// relay on the same host or network), `smtp://…?starttls=true`
    /// (STARTTLS required) or `smtps://…` (TLS from the first byte).
    /// Nothing is connected until the first message.
    pub fn smtp(url: &str, from: &str) -> Result<Self, String> {
        let url = url::Url::parse(url).map_err(|error| format!("TESSERA_SMTP_URL: {error}"))?;
        let host = url
            .host_str()
            .ok_or("TESSERA_SMTP_URL has no host")?
            .to_string();
        let starttls = url
            .query_pairs()
            .any(|(key, value)| key == "starttls" && value == "true");
        let smtp_error = |error: lettre::transport::smtp::Error| format!("SMTP: {error}");
        let mut builder = match (url.scheme(), starttls) {
            ("smtps", _) => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(smtp_error)?
            }
            ("smtp", true) => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(smtp_error)?
            }
            ("smtp", false) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            (scheme, _) => return Err(format!("TESSERA_SMTP_URL: unknown scheme {scheme}")),
        };
        if let Some(port) = url.port() {
            builder = builder.port(port);
        }
        if !url.username().is_empty() {
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(text)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            builder = builder.credentials(Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            ));
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|error| format!("TESSERA_MAIL_FROM: {error}"))?;
        Ok(Self::Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `mail`. `message_id` is the same on every attempt for one
    /// outbox row, so a rare second delivery (see [`worker`]) can be told
    /// apart from a second message.
    pub async fn send(&self, mail: &Mail, message_id: &str) -> Result<(), String> {
        match self {
            Self::Log { bodies, sent } => {
                if *bodies {
                    tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body,
                        "email (development: logged, not sent)");
                } else {
                    tracing::warn!(to = %mail.to, subject = %mail.subject,
                        "email not sent: no TESSERA_SMTP_URL is configured");
                }
                let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                if sent.len() == KEPT {
                    sent.pop_front();
                }
                sent.push_back(mail.clone());
                Ok(())
            }
            Self::Smtp { transport, from } => {
                let to = mail
                    .to
                    .parse::<Mailbox>()
                    .map_err(|error| format!("recipient: {error}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .message_id(Some(message_id.to_string()))
                    .multipart(
                        MultiPart::alternative()
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_PLAIN)
                                    .body(mail.body.clone()),
                            )
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_HTML)
                                    .body(mail.html.clone()),
                            ),
                    )
                    .map_err(|error| format!("message: {error}"))?;
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|error| format!("SMTP: {error}"))
            }
        }
    }

    /// The latest message the log mailer sent to `to` whose text contains
    /// `containing` (letters to one address may go out in any order).
    pub fn last_to(&self, to: &str, containing: &str) -> Option<Mail> {
        match self {
            Self::Log { sent, .. } => {
                let sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                sent.iter()
                    .rev()
                    .find(|mail| mail.to == to && mail.body.contains(containing))
                    .cloned()
            }
            Self::Smtp { .. } => None,
        }
    }
}

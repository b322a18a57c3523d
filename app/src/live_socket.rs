//! The browser side of a live WebSocket, shared by the fans' seat map and
//! the staff dashboard: connect, hand every text message to the page,
//! reconnect with backoff after a drop, stop when the page is left.

/// The connection as a page shows it (`data-live`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Reconnecting,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }
}

/// What the page does with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Applied: the channel is live.
    Applied,
    /// Not understood or not for us: ignored.
    Ignored,
    /// A gap or a changed layout: reconnect for a fresh snapshot.
    Reconnect,
}

/// Runs the socket at `path` until the calling component is cleaned up.
/// `prepare` runs for each connection (to load what messages refer to)
/// while the socket connects, and before any message is handed over: the
/// server's first message crosses the network while the page loads, not
/// after. `on_text` gets every text message.
#[cfg(feature = "hydrate")]
pub fn run<P, F>(
    path: String,
    link: impl Fn(Link) + 'static,
    mut prepare: impl FnMut() -> P + 'static,
    mut on_text: F,
) where
    P: std::future::Future<Output = bool> + 'static,
    F: FnMut(&str) -> Next + 'static,
{
    use futures::StreamExt;
    use gloo_net::websocket::futures::WebSocket;
    use gloo_net::websocket::Message;
    use leptos::prelude::*;

    let alive = StoredValue::new(true);
    on_cleanup(move || alive.set_value(false));
    // The page's owner disposes `alive` right after the cleanup, and the
    // socket can still deliver a message after that: a disposed flag means
    // "closed", never a panic.
    let alive = move || alive.try_get_value().unwrap_or(false);
    leptos::task::spawn_local(async move {
        let mut backoff_ms = 500;
        while alive() {
            let socket =
                crate::client::websocket_url(&path).and_then(|url| WebSocket::open(&url).ok());
            // Messages that arrive while `prepare` runs wait in the socket.
            if let Some(socket) = socket {
                if prepare().await {
                    let (_write, mut read) = socket.split();
                    while let Some(Ok(Message::Text(text))) = read.next().await {
                        if !alive() {
                            return;
                        }
                        match on_text(&text) {
                            Next::Applied => {
                                link(Link::Live);
                                backoff_ms = 500;
                            }
                            Next::Ignored => {}
                            Next::Reconnect => break,
                        }
                    }
                }
            }
            if !alive() {
                return;
            }
            link(Link::Reconnecting);
            gloo_timers::future::TimeoutFuture::new(backoff_ms).await;
            backoff_ms = (backoff_ms * 2).min(8_000);
        }
    });
}

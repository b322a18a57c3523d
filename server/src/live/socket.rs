//! The live channel's WebSocket, run on tokio-tungstenite directly instead
//! of axum's wrapper, for one reason: memory per viewer.
//!
//! tungstenite copies each outgoing frame whole into the connection's write
//! buffer, and that buffer keeps its capacity for the life of the
//! connection. axum's wrapper sends every message as one frame, so the
//! snapshot of a 50,000-seat stadium (several megabytes) left several
//! megabytes pinned in every viewer's connection: ten thousand viewers
//! would need tens of gigabytes. Here a large message goes out as a first
//! frame and continuation frames of at most [`FRAGMENT`] bytes (RFC 6455
//! §5.4), sliced from the one shared serialisation without copying, and
//! written out one at a time. Every client still receives the same single
//! message; a connection's buffer never grows past one fragment.
//!
//! A viewer that stops reading (a dead phone, a stalled or hostile client)
//! fills its TCP buffers, and then every write to it blocks. Its socket is
//! given [`StallGuard`]: a write blocked for longer than the limit fails,
//! the viewer is dropped, and what it held (the snapshot it was being sent)
//! is freed. A slow reader that keeps reading is not affected.

use axum::body::Body;
use axum::extract::ws::Message;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as Wire};
use tokio_tungstenite::WebSocketStream;

/// The largest frame a viewer is sent; longer messages are fragmented.
pub const FRAGMENT: usize = 32 * 1024;
/// Viewers only answer pings: anything larger from them is refused.
const MAX_INCOMING: usize = 64 * 1024;
/// What a connection reads at a time. tungstenite zero-fills this much of
/// its read buffer before every read attempt, and a viewer's task tries to
/// read each time it wakes for a delta; at the default of 128 KiB that was
/// 1.3 GB of memset per delta for 10,000 viewers (a quarter of the server's
/// time), and 1.3 GB of buffers held. Viewers send only pongs.
const READ_BUFFER: usize = 4 * 1024;

/// A validated WebSocket upgrade request (HTTP/1.1).
pub struct LiveUpgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Not a WebSocket upgrade request.
#[derive(Debug)]
pub struct NotAnUpgrade;

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        crate::error::HttpError(app::error::ApiError::bad_request(
            "this endpoint speaks WebSocket only",
        ))
        .into_response()
    }
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for LiveUpgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let upgrade = parts.version <= Version::HTTP_11
            && parts.method == Method::GET
            && header_has(&parts.headers, header::CONNECTION, "upgrade")
            && header_has(&parts.headers, header::UPGRADE, "websocket")
            && header_has(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13");
        let key = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned();
        match (upgrade, key) {
            (true, Some(key)) => {
                let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NotAnUpgrade)?;
                Ok(Self { key, on_upgrade })
            }
            _ => Err(NotAnUpgrade),
        }
    }
}

/// The socket a live viewer is served on.
pub type LiveSocket = WebSocketStream<StallGuard<TokioIo<hyper::upgrade::Upgraded>>>;

/// A connection whose writes fail once one has been blocked for longer
/// than `limit`: the peer stopped reading.
pub struct StallGuard<T> {
    inner: T,
    limit: Duration,
    /// Running while a write is blocked; cleared by any progress.
    blocked: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    pub fn new(inner: T, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            blocked: None,
        }
    }

    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.blocked = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

fn config() -> WebSocketConfig {
    // Write each frame as soon as it is queued: nothing accumulates.
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_INCOMING))
        .max_frame_size(Some(MAX_INCOMING))
}

impl LiveUpgrade {
    /// Answers `101 Switching Protocols` and runs `serve` on the socket
    /// once the connection is handed over; a write blocked for longer than
    /// `stall_limit` fails.
    pub fn on_upgrade<F, Fut>(self, stall_limit: Duration, serve: F) -> Response
    where
        F: FnOnce(LiveSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                // The client went away before the switch: nothing to serve.
                return;
            };
            let socket = WebSocketStream::from_raw_socket(
                StallGuard::new(TokioIo::new(upgraded), stall_limit),
                Role::Server,
                Some(config()),
            )
            .await;
            serve(socket).await;
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// The frames of one outgoing message: one frame, or a first frame and
/// continuations of at most [`FRAGMENT`] bytes that share its buffer.
pub fn frames(message: Message) -> Vec<Wire> {
    let (payload, data) = match message {
        Message::Text(text) => (Bytes::from(text), Data::Text),
        Message::Binary(bytes) => (bytes, Data::Binary),
        Message::Ping(bytes) => return vec![Wire::Ping(bytes)],
        Message::Pong(bytes) => return vec![Wire::Pong(bytes)],
        Message::Close(frame) => {
            return vec![Wire::Close(frame.map(|frame| {
                tungstenite::protocol::CloseFrame {
                    code: frame.code.into(),
                    reason: frame.reason.as_str().into(),
                }
            }))]
        }
    };
    if payload.len() <= FRAGMENT {
        return vec![Wire::Frame(Frame::message(
            payload,
            OpCode::Data(data),
            true,
        ))];
    }
    let count = payload.len().div_ceil(FRAGMENT);
    (0..count)
        .map(|i| {
            let start = i * FRAGMENT;
            let end = (start + FRAGMENT).min(payload.len());
            let opcode = if i == 0 { data } else { Data::Continue };
            Wire::Frame(Frame::message(
                payload.slice(start..end),
                OpCode::Data(opcode),
                i + 1 == count,
            ))
        })
        .collect()
}

/// Splits the socket into halves that speak axum's [`Message`], the type
/// [`super::viewer::serve_viewer`] is written against.
pub fn split<T>(
    socket: WebSocketStream<T>,
) -> (
    impl Sink<Message, Error = tungstenite::Error> + Unpin,
    impl Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (sink, stream) = socket.split();
    let sink = sink.with_flat_map(|message: Message| {
        futures::stream::iter(frames(message).into_iter().map(Ok))
    });
    let stream = stream.map(|incoming| {
        incoming.map(|message| match message {
            Wire::Ping(bytes) => Message::Ping(bytes),
            Wire::Pong(bytes) => Message::Pong(bytes),
            Wire::Close(_) => Message::Close(None),
            // Viewers have nothing to say; whatever they send is ignored.
            Wire::Text(_) | Wire::Binary(_) | Wire::Frame(_) => Message::Binary(Bytes::new()),
        })
    });
    (sink, stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn big_text(len: usize) -> String {
        "0123456789abcdef".repeat(len / 16)
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_blocked_past_the_limit_fails_but_a_slow_reader_is_kept() {
        use tokio::io::AsyncWriteExt;
        let (server_io, mut client) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(server_io, Duration::from_secs(5));
        // The client reads a little every 4 s: never blocked for 5 s.
        for _ in 0..3 {
            guarded.write_all(&[0; 64]).await.expect("room");
            let reading = async {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let mut sink = [0u8; 64];
                client.read_exact(&mut sink).await.expect("read");
            };
            let (written, ()) = tokio::join!(guarded.write_all(&[0; 64]), reading);
            written.expect("a slow reader is not dropped");
            let mut sink = [0u8; 64];
            client.read_exact(&mut sink).await.expect("read");
        }
        // Now it stops reading: the write fails after the limit.
        guarded.write_all(&[0; 64]).await.expect("room");
        let started = tokio::time::Instant::now();
        let error = guarded.write_all(&[0; 64]).await.expect_err("blocked");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(5) && took < Duration::from_secs(6),
            "{took:?}"
        );
    }

    #[test]
    fn a_connection_reads_and_writes_in_small_buffers() {
        let config = config();
        assert!(
            config.read_buffer_size <= READ_BUFFER,
            "zero-filled per wake"
        );
        assert_eq!(config.write_buffer_size, 0, "each frame written at once");
    }

    #[test]
    fn a_small_message_is_one_frame_and_a_large_one_is_fragmented() {
        assert_eq!(frames(Message::Text("{}".into())).len(), 1);
        let text = big_text(FRAGMENT * 3 + 32);
        let frames = frames(Message::Text(text.clone().into()));
        assert_eq!(frames.len(), 4);
        let mut joined = Vec::new();
        for (i, frame) in frames.into_iter().enumerate() {
            let Wire::Frame(frame) = frame else {
                panic!("a raw frame")
            };
            let header = frame.header();
            assert_eq!(header.is_final, i == 3);
            let expected = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(header.opcode, OpCode::Data(expected));
            assert!(frame.payload().len() <= FRAGMENT);
            joined.extend_from_slice(frame.payload());
        }
        assert_eq!(joined, text.as_bytes());
    }

    /// What a stadium snapshot looks like on the wire: no frame longer than
    /// a fragment, yet one whole message at the client.
    #[tokio::test]
    async fn a_large_message_arrives_whole_in_frames_no_longer_than_a_fragment() {
        let text = big_text(FRAGMENT * 4);
        let (server_io, mut raw) = tokio::io::duplex(FRAGMENT * 8);
        let server =
            WebSocketStream::from_raw_socket(server_io, Role::Server, Some(config())).await;
        let (mut sink, _stream) = split(server);
        let sent = text.clone();
        let sending = tokio::spawn(async move {
            sink.send(Message::Text(sent.into())).await.expect("sent");
            sink
        });
        let mut wire = vec![0u8; text.len() + 64];
        let mut read = 0;
        while read < wire.len() {
            let n = raw.read(&mut wire[read..]).await.expect("read");
            if n == 0 {
                break;
            }
            read += n;
            if read >= text.len() + 4 * 4 {
                break;
            }
        }
        let _sink = sending.await.expect("sender");
        // The first frame: text, not final, a 16-bit length of one fragment.
        assert_eq!(wire[0], 0x01, "text opcode without FIN");
        assert_eq!(wire[1], 126);
        assert_eq!(u16::from_be_bytes([wire[2], wire[3]]) as usize, FRAGMENT);
        // And a client puts the fragments back together.
        let (client_io, server_io) = tokio::io::duplex(FRAGMENT * 8);
        let server =
            WebSocketStream::from_raw_socket(server_io, Role::Server, Some(config())).await;
        let mut client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let (mut sink, _stream) = split(server);
        let sent = text.clone();
        tokio::spawn(async move { sink.send(Message::Text(sent.into())).await });
        match client.next().await {
            Some(Ok(Wire::Text(received))) => assert_eq!(received.as_str(), text),
            other => panic!("expected the whole text, got {other:?}"),
        }
    }
}

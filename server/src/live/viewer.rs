//! One viewer's connection: snapshot first, then ordered deltas; a viewer
//! that fell behind the broadcast buffer, or sees a gap, is sent a fresh
//! snapshot instead of silently missing changes. Generic over the socket's
//! halves so it can be tested without a network.

use super::{EventChannel, LiveFormat};
use axum::extract::ws::{close_code, CloseFrame, Message};
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Keep-alive: a ping this often; no pong by the next one closes the socket.
pub const PING_EVERY: Duration = Duration::from_secs(20);

pub async fn serve_viewer<S, R, E>(
    channel: Arc<EventChannel>,
    format: LiveFormat,
    mut sink: S,
    mut stream: R,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    // Subscribe before taking the snapshot: a change committed in between is
    // then in the buffer (and skipped if the snapshot already has it).
    let mut receiver = channel.subscribe();
    let (mut version, snapshot) = channel.snapshot_in(format);
    if sink.send(Message::Text(snapshot)).await.is_err() {
        return;
    }
    metrics::counter!("tessera_live_frames_sent_total").increment(1);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            frame = receiver.recv() => {
                let message = match frame {
                    Ok(frame) if frame.version <= version => continue,
                    Ok(frame) if frame.prev_version == version => {
                        version = frame.version;
                        Message::Text(frame.in_format(format).clone())
                    }
                    // A gap, or fell behind the buffer: start again from a snapshot.
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        metrics::counter!("tessera_live_resyncs_total").increment(1);
                        let (now, snapshot) = channel.snapshot_in(format);
                        version = now;
                        Message::Text(snapshot)
                    }
                    Err(RecvError::Closed) => break,
                };
                if sink.send(message).await.is_err() {
                    break;
                }
                metrics::counter!("tessera_live_frames_sent_total").increment(1);
            }
            incoming = stream.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                // Pings are answered by the WebSocket layer; text is ignored.
                Some(Ok(_)) => {}
            },
            // The server is stopping: 1001 tells the client to reconnect
            // (to another instance, through the load balancer).
            () = channel.going_away() => {
                let _ = sink.send(Message::Close(Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "server restarting".into(),
                }))).await;
                break;
            }
            _ = ping.tick() => {
                if awaiting_pong || sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                awaiting_pong = true;
            }
        }
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::changes::SeatChangeRow;
    use app::types::{EventId, LiveMessage, SeatId, SeatStatus, SeatView};
    use futures::channel::mpsc;

    fn seat(id: i64) -> SeatView {
        SeatView {
            id: SeatId(id),
            section: "Floor".into(),
            row: "A".into(),
            number: id,
            x: 0.0,
            y: 0.0,
            tier: "Standard".into(),
            price_cents: 1000,
            status: SeatStatus::Available,
            features: Vec::new(),
        }
    }

    fn change(version: i64, seat_id: i64, status: &str) -> SeatChangeRow {
        SeatChangeRow {
            version,
            seat_id,
            status: status.into(),
        }
    }

    async fn next(out: &mut mpsc::UnboundedReceiver<Message>) -> LiveMessage {
        match out.next().await {
            Some(Message::Text(text)) => serde_json::from_str(&text).expect("live message"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next message, which must be a delta: its previous and new
    /// version and how many seats it changes.
    async fn next_delta(out: &mut mpsc::UnboundedReceiver<Message>) -> (i64, i64, usize) {
        match next(out).await {
            LiveMessage::Delta {
                prev_version,
                version,
                changes,
            } => (prev_version, version, changes.len()),
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    /// Runs a viewer on in-memory pipes; returns what it sends.
    fn start(channel: Arc<EventChannel>) -> mpsc::UnboundedReceiver<Message> {
        let (sink, out) = mpsc::unbounded::<Message>();
        let incoming = futures::stream::pending::<Result<Message, ()>>();
        tokio::spawn(serve_viewer(channel, LiveFormat::Json, sink, incoming));
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn deltas_follow_the_snapshot_in_version_order() {
        let channel = Arc::new(EventChannel::new(EventId(1), 7, vec![seat(1), seat(2)], 16));
        let mut out = start(channel.clone());
        assert!(matches!(
            next(&mut out).await,
            LiveMessage::Snapshot { version: 7, .. }
        ));
        channel.apply(vec![change(8, 1, "held")]);
        channel.apply(vec![change(9, 1, "sold"), change(9, 2, "held")]);
        assert_eq!(next_delta(&mut out).await, (7, 8, 1));
        assert_eq!(next_delta(&mut out).await, (8, 9, 2));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_viewer_that_falls_behind_the_buffer_gets_a_fresh_snapshot() {
        let channel = Arc::new(EventChannel::new(
            EventId(1),
            0,
            vec![seat(1), seat(2), seat(3)],
            2,
        ));
        let mut out = start(channel.clone());
        assert!(matches!(
            next(&mut out).await,
            LiveMessage::Snapshot { version: 0, .. }
        ));
        // Five frames while the viewer is not scheduled: more than its buffer.
        for (version, seat_id) in [(1, 1), (2, 2), (3, 3), (4, 1), (5, 2)] {
            let status = if version > 3 { "sold" } else { "held" };
            channel.apply(vec![change(version, seat_id, status)]);
        }
        let LiveMessage::Snapshot { version, seats } = next(&mut out).await else {
            panic!("a lagged viewer is resynchronised by snapshot, never left with a hole")
        };
        assert_eq!(version, 5);
        let statuses: Vec<_> = seats.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [SeatStatus::Sold, SeatStatus::Sold, SeatStatus::Held]
        );
        channel.apply(vec![change(6, 3, "available")]);
        assert_eq!(next_delta(&mut out).await, (5, 6, 1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stopping_server_closes_its_viewers_with_going_away() {
        let lifecycle = crate::lifecycle::Lifecycle::default();
        let channel = Arc::new(
            EventChannel::new(EventId(1), 0, vec![seat(1)], 16).with_lifecycle(lifecycle.clone()),
        );
        let mut out = start(channel.clone());
        assert!(matches!(next(&mut out).await, LiveMessage::Snapshot { .. }));
        lifecycle.begin_shutdown();
        match out.next().await {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, close_code::AWAY),
            other => panic!("expected a 1001 close frame, got {other:?}"),
        }
        assert!(out.next().await.is_none(), "the viewer ends after closing");
        assert_eq!(channel.viewer_count(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn changes_already_in_the_snapshot_are_not_sent_again() {
        let channel = Arc::new(EventChannel::new(EventId(1), 0, vec![seat(1)], 16));
        channel.apply(vec![change(1, 1, "held")]);
        let mut out = start(channel.clone());
        assert!(matches!(
            next(&mut out).await,
            LiveMessage::Snapshot { version: 1, .. }
        ));
        channel.apply(vec![change(1, 1, "held"), change(2, 1, "available")]);
        assert_eq!(next_delta(&mut out).await, (1, 2, 1));
    }
}

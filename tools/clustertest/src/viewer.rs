//! A live seat-map viewer as the browser's client behaves: it keeps the map
//! from the snapshot and deltas, and when its socket closes (its instance
//! died, or closed it with 1001 while stopping) it reconnects to the same
//! URL, through nginx to whichever instance answers, and starts again
//! from a fresh snapshot.

use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// A seat's status as a viewer saw it change, and when.
#[derive(Clone, Debug)]
pub struct Seen {
    pub seat_id: i64,
    pub status: String,
    pub at: Instant,
}

#[derive(Debug, Default)]
pub struct ViewerState {
    pub version: i64,
    pub seats: HashMap<i64, String>,
    /// Sockets opened after the first.
    pub reconnects: usize,
    /// Close codes the server sent (1001 when an instance stops).
    pub close_codes: Vec<u16>,
    /// Deltas whose `prev_version` was not the map's version (a gap).
    pub gaps: usize,
}

pub struct Viewer {
    pub state: Arc<Mutex<ViewerState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Viewer {
    /// Connects to `ws_url` and keeps the map until `stop` is set; every
    /// change a delta brings is also sent to `changes`, if given.
    pub fn spawn(
        ws_url: String,
        stop: watch::Receiver<bool>,
        changes: Option<mpsc::UnboundedSender<Seen>>,
    ) -> Self {
        let state = Arc::new(Mutex::new(ViewerState::default()));
        let task = tokio::spawn(run(ws_url, stop, changes, state.clone()));
        Self { state, task }
    }

    pub fn snapshot(&self) -> (i64, HashMap<i64, String>) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (state.version, state.seats.clone())
    }

    pub async fn join(self) {
        let _ = self.task.await;
    }
}

async fn run(
    url: String,
    mut stop: watch::Receiver<bool>,
    changes: Option<mpsc::UnboundedSender<Seen>>,
    state: Arc<Mutex<ViewerState>>,
) {
    let mut connected_before = false;
    while !*stop.borrow() {
        let socket = tokio::select! {
            socket = tokio_tungstenite::connect_async(url.as_str()) => socket,
            _ = stop.changed() => break,
        };
        let Ok((mut socket, _)) = socket else {
            // Nothing answers right now (nginx between instances): retry soon.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if connected_before {
            lock(&state).reconnects += 1;
        }
        connected_before = true;
        loop {
            let message = tokio::select! {
                message = socket.next() => message,
                _ = stop.changed() => return,
            };
            match message {
                Some(Ok(Message::Text(text))) => apply(&state, &text, changes.as_ref()),
                Some(Ok(Message::Close(frame))) => {
                    if let Some(frame) = frame {
                        lock(&state).close_codes.push(frame.code.into());
                    }
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    }
}

fn lock(state: &Mutex<ViewerState>) -> std::sync::MutexGuard<'_, ViewerState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn apply(state: &Mutex<ViewerState>, text: &str, changes: Option<&mpsc::UnboundedSender<Seen>>) {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let at = Instant::now();
    let mut state = lock(state);
    let mut seen = Vec::new();
    match message["type"].as_str() {
        Some("snapshot") => {
            state.version = message["version"].as_i64().unwrap_or(0);
            state.seats.clear();
            for seat in message["seats"].as_array().into_iter().flatten() {
                if let (Some(id), Some(status)) = (seat["id"].as_i64(), seat["status"].as_str()) {
                    state.seats.insert(id, status.to_string());
                }
            }
        }
        Some("delta") => {
            if message["prev_version"].as_i64() != Some(state.version) {
                state.gaps += 1;
            }
            state.version = message["version"].as_i64().unwrap_or(state.version);
            for change in message["changes"].as_array().into_iter().flatten() {
                if let (Some(id), Some(status)) =
                    (change["seat_id"].as_i64(), change["status"].as_str())
                {
                    state.seats.insert(id, status.to_string());
                    seen.push((id, status.to_string()));
                }
            }
        }
        _ => {}
    }
    if let Some(changes) = changes {
        for (seat_id, status) in seen {
            let _ = changes.send(Seen {
                seat_id,
                status,
                at,
            });
        }
    }
}

//! Live seat-map viewers: thousands of WebSocket connections to
//! `GET /api/events/{id}/live`, opened before the buyers start.
//!
//! A viewer is a plain TCP socket that speaks just enough WebSocket (RFC
//! 6455) to be a client: the upgrade request, unmasked server frames, and a
//! pong for each ping. Most viewers only walk the frame headers, counting
//! frames and bytes and skipping payloads, so that ten thousand of them cost
//! loadgen little more than the reads; a sample of `--measure-viewers`
//! keeps whole messages, parses them, and measures how long after a hold's
//! response the delta with its seats arrived.

use crate::report::{percentiles, Percentiles};
use app::types::{LiveMessage, SeatId, SeatStatus};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

/// When each hold of each seat got its response, for the measuring viewers:
/// the k-th delta showing a seat `held` belongs to the k-th hold of it.
#[derive(Default)]
pub struct HoldClock {
    held_at: Mutex<HashMap<SeatId, Vec<Instant>>>,
}

impl HoldClock {
    pub fn held(&self, seats: impl IntoIterator<Item = SeatId>, at: Instant) {
        let mut map = self.held_at.lock().unwrap_or_else(|p| p.into_inner());
        for seat in seats {
            map.entry(seat).or_default().push(at);
        }
    }
}

pub struct ViewerConfig {
    /// `host:port` of the server.
    pub addr: String,
    pub event: app::types::EventId,
    pub count: usize,
    pub measure: usize,
    pub connect_concurrency: usize,
}

#[derive(Default)]
struct Totals {
    connected: AtomicUsize,
    finished_connecting: AtomicUsize,
    frames: AtomicU64,
    bytes: AtomicU64,
    resync_snapshots: AtomicU64,
    disconnected_early: AtomicUsize,
    snapshot_bytes: AtomicU64,
    delta_before_response: AtomicU64,
    connect_errors: Mutex<BTreeMap<String, usize>>,
    delays_us: Mutex<Vec<u64>>,
}

/// The viewers, once connected; [`Viewers::finish`] closes them and reports.
pub struct Viewers {
    totals: Arc<Totals>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    requested: usize,
    measured: usize,
    connect_s: f64,
}

#[derive(Serialize)]
pub struct ViewerReport {
    pub requested: usize,
    pub connected: usize,
    /// Time until every viewer had connected and received its whole snapshot.
    pub connect_s: f64,
    pub connect_errors: BTreeMap<String, usize>,
    /// Size of the snapshot message a new viewer receives.
    pub snapshot_bytes: u64,
    pub measured_viewers: usize,
    /// Messages received by all viewers, snapshots included.
    pub frames: u64,
    pub bytes: u64,
    /// Snapshots sent again to viewers that fell behind.
    pub resync_snapshots: u64,
    pub disconnected_early: usize,
    /// Hold response to the arrival at a measuring viewer of the delta that
    /// shows the seat `held`; one sample per seat per measuring viewer.
    pub delta_delay: Option<Percentiles>,
    pub delay_samples: usize,
    /// Samples whose delta arrived before loadgen had the hold's response
    /// (counted as 0 ms).
    pub delta_before_response: u64,
}

/// Connects `config.count` viewers, at most `connect_concurrency` at a time,
/// and returns once each has its snapshot or has failed.
pub async fn connect(config: ViewerConfig, clock: Arc<HoldClock>) -> Viewers {
    let totals = Arc::new(Totals::default());
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let request = Arc::new(format!(
        "GET /api/events/{}/live HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: bG9hZGdlbiB2aWV3ZXIhIQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        config.event, config.addr
    ));
    let measured = config.measure.min(config.count);
    // Spread the measuring viewers over the connection order.
    let every = config.count.checked_div(measured).unwrap_or(usize::MAX);
    let started = Instant::now();
    let tasks = (0..config.count)
        .map(|i| {
            let viewer = Viewer {
                addr: config.addr.clone(),
                request: request.clone(),
                measuring: every != usize::MAX && i % every == 0 && i / every < measured,
                totals: totals.clone(),
                clock: clock.clone(),
                stopped: stopped.clone(),
            };
            tokio::spawn(viewer.run(gate.clone()))
        })
        .collect();
    while totals.finished_connecting.load(Ordering::Relaxed) < config.count {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Viewers {
        totals,
        tasks,
        stop,
        requested: config.count,
        measured,
        connect_s: started.elapsed().as_secs_f64(),
    }
}

impl Viewers {
    pub fn connected(&self) -> usize {
        self.totals.connected.load(Ordering::Relaxed)
    }

    pub fn connect_s(&self) -> f64 {
        self.connect_s
    }

    /// Lets the last deltas arrive for `drain`, then closes every viewer.
    pub async fn finish(self, drain: Duration) -> ViewerReport {
        tokio::time::sleep(drain).await;
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let totals = &self.totals;
        let mut delays =
            std::mem::take(&mut *totals.delays_us.lock().unwrap_or_else(|p| p.into_inner()));
        ViewerReport {
            requested: self.requested,
            connected: totals.connected.load(Ordering::Relaxed),
            connect_s: self.connect_s,
            connect_errors: std::mem::take(
                &mut *totals
                    .connect_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            ),
            snapshot_bytes: totals.snapshot_bytes.load(Ordering::Relaxed),
            measured_viewers: self.measured,
            frames: totals.frames.load(Ordering::Relaxed),
            bytes: totals.bytes.load(Ordering::Relaxed),
            resync_snapshots: totals.resync_snapshots.load(Ordering::Relaxed),
            disconnected_early: totals.disconnected_early.load(Ordering::Relaxed),
            delay_samples: delays.len(),
            delta_delay: percentiles(&mut delays),
            delta_before_response: totals.delta_before_response.load(Ordering::Relaxed),
        }
    }
}

struct Viewer {
    addr: String,
    request: Arc<String>,
    measuring: bool,
    totals: Arc<Totals>,
    clock: Arc<HoldClock>,
    stopped: watch::Receiver<bool>,
}

/// Counts of one viewer, added to the totals when it ends.
#[derive(Default)]
struct Tally {
    messages: u64,
    snapshots: u64,
    bytes: u64,
    delays_us: Vec<u64>,
    before_response: u64,
    /// `held` deltas seen per seat (measuring viewers).
    seen_held: HashMap<SeatId, usize>,
    /// Set by a second snapshot: deltas were skipped, so the count per
    /// seat no longer lines up with the holds and measuring stops.
    resynced: bool,
}

impl Viewer {
    async fn run(mut self, gate: Arc<Semaphore>) {
        let permit = gate.acquire_owned().await;
        let mut tally = Tally::default();
        let mut socket = match self.open().await {
            Ok(socket) => socket,
            Err(error) => {
                self.connect_failed(error);
                return;
            }
        };
        // Connected once the whole snapshot is in: only then is the viewer
        // live, and only then may the next one start (the ramp).
        let mut permit = Some(permit);
        let snapshot_deadline = tokio::time::Instant::now() + SNAPSHOT_WITHIN;
        let outcome = loop {
            if tally.messages > 0 {
                if let Some(permit) = permit.take() {
                    drop(permit);
                    self.totals.connected.fetch_add(1, Ordering::Relaxed);
                    self.totals
                        .finished_connecting
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            let read = tokio::select! {
                read = socket.read_more() => read,
                _ = self.stopped.changed() => break Ok(()),
                _ = tokio::time::sleep_until(snapshot_deadline), if permit.is_some() => {
                    break Err(format!("no snapshot within {} s", SNAPSHOT_WITHIN.as_secs()));
                }
            };
            match read {
                Ok(0) => break Err("closed by the server".to_string()),
                Ok(n) => tally.bytes += n as u64,
                Err(error) => break Err(error.to_string()),
            }
            if let Err(error) = socket
                .process(self.measuring, &self.clock, &mut tally)
                .await
            {
                break Err(error);
            }
        };
        if let Err(error) = outcome {
            if permit.is_some() {
                self.connect_failed(format!("before the snapshot: {error}"));
            } else {
                self.totals
                    .disconnected_early
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let totals = &self.totals;
        totals.frames.fetch_add(tally.messages, Ordering::Relaxed);
        totals.bytes.fetch_add(tally.bytes, Ordering::Relaxed);
        totals
            .resync_snapshots
            .fetch_add(tally.snapshots.saturating_sub(1), Ordering::Relaxed);
        totals
            .delta_before_response
            .fetch_add(tally.before_response, Ordering::Relaxed);
        totals
            .snapshot_bytes
            .fetch_max(socket.first_message_len, Ordering::Relaxed);
        if !tally.delays_us.is_empty() {
            totals
                .delays_us
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(tally.delays_us);
        }
    }

    fn connect_failed(&self, error: String) {
        *self
            .totals
            .connect_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(error)
            .or_default() += 1;
        self.totals
            .finished_connecting
            .fetch_add(1, Ordering::Relaxed);
    }

    async fn open(&self) -> Result<Socket, String> {
        let mut stream =
            tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(&self.addr))
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| format!("connect: {}", e.kind()))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .write_all(self.request.as_bytes())
            .await
            .map_err(|e| format!("upgrade request: {}", e.kind()))?;
        let mut buf = Vec::with_capacity(READ_CHUNK);
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > 16 * 1024 {
                return Err("upgrade answer too long".into());
            }
            buf.reserve(READ_CHUNK);
            let n = stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("upgrade answer: {}", e.kind()))?;
            if n == 0 {
                return Err("closed during the upgrade".into());
            }
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            let status = String::from_utf8_lossy(&buf[..buf.len().min(12)]).into_owned();
            return Err(format!("upgrade refused: {status}"));
        }
        buf.drain(..head_end);
        Ok(Socket {
            stream,
            buf,
            skip: 0,
            skip_ends_message: false,
            message: Vec::new(),
            first_message_len: 0,
            message_len: 0,
        })
    }
}

const READ_CHUNK: usize = 16 * 1024;
/// A viewer that has not received its whole snapshot by then counts as failed.
const SNAPSHOT_WITHIN: Duration = Duration::from_secs(120);

/// One frame header of a server frame (never masked).
#[derive(Debug, PartialEq)]
struct Header {
    fin: bool,
    opcode: u8,
    len: usize,
    payload: u64,
}

/// The header at the start of `buf`, or `None` if more bytes are needed.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, String> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err("masked frame from the server".into());
    }
    let (len, payload) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(ext) => (4, u64::from(u16::from_be_bytes([ext[0], ext[1]]))),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(ext) => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(ext);
                (10, u64::from_be_bytes(bytes))
            }
            None => return Ok(None),
        },
        short => (2, u64::from(short)),
    };
    Ok(Some(Header {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        len,
        payload,
    }))
}

struct Socket {
    stream: TcpStream,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// Payload bytes still to discard (counting viewers only).
    skip: u64,
    skip_ends_message: bool,
    /// The message being assembled (measuring viewers only).
    message: Vec<u8>,
    message_len: u64,
    first_message_len: u64,
}

impl Socket {
    async fn read_more(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Consumes every whole frame (or skippable payload) in the buffer.
    async fn process(
        &mut self,
        measuring: bool,
        clock: &HoldClock,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let mut at = 0;
        loop {
            if self.skip > 0 {
                let take = self.skip.min((self.buf.len() - at) as u64);
                self.skip -= take;
                at += take as usize;
                if self.skip > 0 {
                    break;
                }
                if self.skip_ends_message {
                    self.end_message(tally);
                }
            }
            let Some(header) = parse_header(&self.buf[at..])? else {
                break;
            };
            let start = at + header.len;
            let available = self.buf.len() - start;
            let payload = usize::try_from(header.payload).map_err(|e| e.to_string())?;
            let data = matches!(header.opcode, 0..=2);
            if data && !measuring {
                // Enough of the payload to tell a snapshot from a delta.
                if header.opcode != 0 && available < payload.min(24) {
                    break;
                }
                if header.opcode != 0 {
                    let prefix = &self.buf[start..start + payload.min(24)];
                    if prefix.starts_with(br#"{"type":"snapshot""#) {
                        tally.snapshots += 1;
                    }
                }
                self.message_len += header.payload;
                at = start;
                self.skip = header.payload;
                self.skip_ends_message = header.fin;
                if self.skip == 0 && header.fin {
                    self.end_message(tally);
                }
                continue;
            }
            if available < payload {
                break;
            }
            let body = &self.buf[start..start + payload];
            at = start + payload;
            match header.opcode {
                0..=2 => {
                    self.message.extend_from_slice(body);
                    self.message_len += header.payload;
                    if header.fin {
                        let message = std::mem::take(&mut self.message);
                        measure(&message, clock, tally)?;
                        self.end_message(tally);
                    }
                }
                8 => return Err("closed by the server".into()),
                9 => {
                    // A pong carries the ping's payload; client frames are
                    // masked, and a zero mask leaves the payload as it is.
                    let mut pong = vec![0x8a, 0x80 | payload as u8, 0, 0, 0, 0];
                    pong.extend_from_slice(body);
                    self.stream
                        .write_all(&pong)
                        .await
                        .map_err(|e| format!("pong: {}", e.kind()))?;
                }
                _ => {}
            }
        }
        self.buf.drain(..at);
        Ok(())
    }

    fn end_message(&mut self, tally: &mut Tally) {
        tally.messages += 1;
        if self.first_message_len == 0 {
            self.first_message_len = self.message_len;
        }
        self.message_len = 0;
        self.skip_ends_message = false;
    }
}

/// Parses one whole message of a measuring viewer and records the delay of
/// every seat it shows newly held.
fn measure(message: &[u8], clock: &HoldClock, tally: &mut Tally) -> Result<(), String> {
    let arrived = Instant::now();
    let incoming: LiveMessage = serde_json::from_slice(message).map_err(|e| e.to_string())?;
    match incoming {
        LiveMessage::Snapshot { .. } => {
            tally.snapshots += 1;
            tally.resynced = tally.snapshots > 1;
        }
        LiveMessage::Delta { .. } if tally.resynced => {}
        LiveMessage::Delta { changes, .. } => {
            let held_at = clock.held_at.lock().unwrap_or_else(|p| p.into_inner());
            for change in changes.iter().filter(|c| c.status == SeatStatus::Held) {
                let seen = tally.seen_held.entry(change.seat_id).or_default();
                let hold = *seen;
                *seen += 1;
                match held_at
                    .get(&change.seat_id)
                    .and_then(|holds| holds.get(hold))
                {
                    Some(&at) => tally
                        .delays_us
                        .push(arrived.saturating_duration_since(at).as_micros() as u64),
                    None => {
                        tally.before_response += 1;
                        tally.delays_us.push(0);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_headers_of_every_length_form_are_read() {
        assert_eq!(parse_header(&[0x81]).expect("ok"), None);
        let short = parse_header(&[0x81, 5, b'h']).expect("ok").expect("header");
        assert_eq!(
            short,
            Header {
                fin: true,
                opcode: 1,
                len: 2,
                payload: 5
            }
        );
        let medium = parse_header(&[0x01, 126, 0x01, 0x00])
            .expect("ok")
            .expect("header");
        assert_eq!((medium.fin, medium.len, medium.payload), (false, 4, 256));
        assert_eq!(parse_header(&[0x81, 127, 0, 0]).expect("ok"), None);
        let long = parse_header(&[0x81, 127, 0, 0, 0, 0, 0, 0x72, 0x70, 0xe0])
            .expect("ok")
            .expect("header");
        assert_eq!((long.len, long.payload), (10, 7_500_000));
        assert!(parse_header(&[0x81, 0x85]).is_err(), "servers never mask");
    }

    #[test]
    fn a_delta_records_the_delay_of_each_seat_held() {
        let clock = HoldClock::default();
        clock.held([SeatId(7)], Instant::now());
        let mut tally = Tally::default();
        let delta = br#"{"type":"delta","prev_version":1,"version":2,"changes":[{"seat_id":7,"status":"held"},{"seat_id":8,"status":"held"},{"seat_id":9,"status":"available"}]}"#;
        measure(delta, &clock, &mut tally).expect("delta");
        assert_eq!(tally.delays_us.len(), 2);
        assert_eq!(tally.before_response, 1, "seat 8's response had not come");
        // Seat 7 held a second time: measured from its second response.
        std::thread::sleep(Duration::from_millis(20));
        clock.held([SeatId(7)], Instant::now());
        let again = br#"{"type":"delta","prev_version":2,"version":3,"changes":[{"seat_id":7,"status":"held"}]}"#;
        measure(again, &clock, &mut tally).expect("delta");
        assert!(tally.delays_us[2] < 20_000, "{:?}", tally.delays_us);
        measure(
            br#"{"type":"snapshot","version":2,"seats":[]}"#,
            &clock,
            &mut tally,
        )
        .expect("snapshot");
        assert_eq!(tally.snapshots, 1);
    }
}

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

use crate::hold_clock::HoldClock;
use crate::latency::{Latency, Percentiles};
use crate::live_format::LiveFormat;
use app::types::{EventId, LiveMessage, SeatId, SeatStatus};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

pub struct ViewerConfig {
    /// `host:port` of the server.
    pub addr: String,
    pub event: EventId,
    pub count: usize,
    pub measure: usize,
    pub connect_concurrency: usize,
    pub format: LiveFormat,
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
    /// Upgrade answer and snapshot, as received, of every connected viewer.
    connect_bytes: AtomicU64,
    delta_before_response: AtomicU64,
    connect_errors: Mutex<BTreeMap<String, usize>>,
    delays: Mutex<Latency>,
}

impl Totals {
    /// Adds one viewer's counts, when it ends.
    fn add(&self, tally: Tally, socket: &Socket) {
        self.frames.fetch_add(tally.messages, Ordering::Relaxed);
        self.bytes.fetch_add(tally.bytes, Ordering::Relaxed);
        self.resync_snapshots
            .fetch_add(tally.snapshots.saturating_sub(1), Ordering::Relaxed);
        self.delta_before_response
            .fetch_add(tally.before_response, Ordering::Relaxed);
        self.snapshot_bytes
            .fetch_max(socket.first_message_len, Ordering::Relaxed);
        if tally.messages > 0 {
            self.connect_bytes.fetch_add(
                socket.upgrade_len + socket.first_message_wire,
                Ordering::Relaxed,
            );
        }
        if !tally.delays_us.is_empty() {
            let mut delays = lock(&self.delays);
            for us in tally.delays_us {
                delays.record(Duration::from_micros(us));
            }
        }
    }
}

/// The viewers, once connected; [`Viewers::finish`] closes them and reports.
pub struct Viewers {
    totals: Arc<Totals>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    requested: usize,
    measured: usize,
    connect_s: f64,
    format: LiveFormat,
}

#[derive(Serialize)]
pub struct ViewerReport {
    pub live_format: LiveFormat,
    pub requested: usize,
    pub connected: usize,
    /// Time until every viewer had connected and received its whole snapshot.
    pub connect_s: f64,
    pub connect_errors: BTreeMap<String, usize>,
    /// Size of the snapshot message a new viewer receives.
    pub snapshot_bytes: u64,
    /// What a viewer receives until it is live, on the wire: the upgrade
    /// answer, then the snapshot with its frame headers (mean per viewer).
    pub bytes_per_connect: u64,
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
    pub delay_samples: u64,
    /// Samples whose delta arrived before loadgen had the hold's response
    /// (counted as 0 ms).
    pub delta_before_response: u64,
}

/// Connects `config.count` viewers, at most `connect_concurrency` at a time,
/// and returns once each has its snapshot or has failed. One viewer is
/// connected first: a channel that refuses it fails the run with its reason
/// instead of failing thousands of viewers alike.
pub async fn connect(config: ViewerConfig, clock: Arc<HoldClock>) -> Result<Viewers, String> {
    let path = config.format.path(config.event);
    let request = Arc::new(format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: bG9hZGdlbiB2aWV3ZXIhIQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        config.addr
    ));
    let probe = async {
        let mut socket = open(&config.addr, &request).await?;
        let prefix = first_message_prefix(&mut socket).await?;
        config.format.check_served(&prefix)
    };
    match tokio::time::timeout(SNAPSHOT_WITHIN, probe).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(format!(
                "a viewer could not open {path}: {error}{}",
                config.format.refusal_hint()
            ))
        }
        Err(_) => return Err(format!("no snapshot from {path} in time")),
    }
    let totals = Arc::new(Totals::default());
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let measured = if config.format.decodable() {
        config.measure.min(config.count)
    } else {
        0
    };
    // Spread the measuring viewers over the connection order.
    let every = config.count.checked_div(measured).unwrap_or(usize::MAX);
    let started = Instant::now();
    let tasks = (0..config.count)
        .map(|i| {
            let viewer = Viewer {
                addr: config.addr.clone(),
                request: request.clone(),
                format: config.format,
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
    Ok(Viewers {
        totals,
        tasks,
        stop,
        requested: config.count,
        measured,
        connect_s: started.elapsed().as_secs_f64(),
        format: config.format,
    })
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
        let delays = std::mem::take(&mut *lock(&totals.delays));
        let connected = totals.connected.load(Ordering::Relaxed);
        ViewerReport {
            live_format: self.format,
            requested: self.requested,
            connected,
            connect_s: self.connect_s,
            connect_errors: std::mem::take(&mut *lock(&totals.connect_errors)),
            snapshot_bytes: totals.snapshot_bytes.load(Ordering::Relaxed),
            bytes_per_connect: totals
                .connect_bytes
                .load(Ordering::Relaxed)
                .checked_div(connected as u64)
                .unwrap_or(0),
            measured_viewers: self.measured,
            frames: totals.frames.load(Ordering::Relaxed),
            bytes: totals.bytes.load(Ordering::Relaxed),
            resync_snapshots: totals.resync_snapshots.load(Ordering::Relaxed),
            disconnected_early: totals.disconnected_early.load(Ordering::Relaxed),
            delay_samples: delays.count(),
            delta_delay: delays.percentiles(),
            delta_before_response: totals.delta_before_response.load(Ordering::Relaxed),
        }
    }
}

/// A poisoned lock only means a viewer task panicked; the counts it holds
/// are still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

struct Viewer {
    addr: String,
    request: Arc<String>,
    format: LiveFormat,
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
        let mut socket = match open(&self.addr, &self.request).await {
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
        // What came with the upgrade answer is counted and read first.
        tally.bytes += socket.buf.len() as u64;
        let outcome = loop {
            if let Err(error) = socket
                .process(self.format, self.measuring, &self.clock, &mut tally)
                .await
            {
                break Err(error);
            }
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
        self.totals.add(tally, &socket);
    }

    fn connect_failed(&self, error: String) {
        *lock(&self.totals.connect_errors).entry(error).or_default() += 1;
        self.totals
            .finished_connecting
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Opens a viewer's socket: the TCP connection and the WebSocket upgrade.
async fn open(addr: &str, request: &str) -> Result<Socket, String> {
    let mut stream = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {}", e.kind()))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
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
        message_len: 0,
        message_wire: 0,
        first_message_len: 0,
        first_message_wire: 0,
        upgrade_len: head_end as u64,
    })
}

/// The first bytes of the first message, enough to tell its format.
async fn first_message_prefix(socket: &mut Socket) -> Result<Vec<u8>, String> {
    loop {
        if let Some(header) = parse_header(&socket.buf)? {
            let want = usize::try_from(header.payload)
                .unwrap_or(usize::MAX)
                .min(LiveFormat::SNAPSHOT_PREFIX);
            if let Some(prefix) = socket.buf.get(header.len..header.len + want) {
                return Ok(prefix.to_vec());
            }
        }
        if socket.read_more().await.map_err(|e| e.to_string())? == 0 {
            return Err("closed before the first message".into());
        }
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
    /// The message's frames as received, headers included.
    message_wire: u64,
    first_message_len: u64,
    first_message_wire: u64,
    /// The upgrade answer's length (status line and headers).
    upgrade_len: u64,
}

impl Socket {
    async fn read_more(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Consumes every whole frame (or skippable payload) in the buffer.
    async fn process(
        &mut self,
        format: LiveFormat,
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
            if data {
                self.message_wire += header.len as u64 + header.payload;
            }
            if data && !measuring {
                // Enough of the payload to tell a snapshot from a delta.
                let prefix_len = payload.min(LiveFormat::SNAPSHOT_PREFIX);
                if header.opcode != 0 && available < prefix_len {
                    self.message_wire -= header.len as u64 + header.payload;
                    break;
                }
                if header.opcode != 0 {
                    let prefix = &self.buf[start..start + prefix_len];
                    if LiveFormat::is_snapshot(prefix) {
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
                if data {
                    // Counted again once the whole frame is in.
                    self.message_wire -= header.len as u64 + header.payload;
                }
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
                        measure(format.decode(&message)?, clock, tally);
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
        if tally.messages == 1 {
            self.first_message_len = self.message_len;
            self.first_message_wire = self.message_wire;
        }
        self.message_len = 0;
        self.message_wire = 0;
        self.skip_ends_message = false;
    }
}

/// Records, for a measuring viewer, the delay of every seat a message
/// shows newly held.
fn measure(message: LiveMessage, clock: &HoldClock, tally: &mut Tally) {
    let arrived = Instant::now();
    match message {
        LiveMessage::Snapshot { .. } => {
            tally.snapshots += 1;
            tally.resynced = tally.snapshots > 1;
        }
        LiveMessage::Delta { .. } if tally.resynced => {}
        LiveMessage::Delta { changes, .. } => {
            for change in changes.iter().filter(|c| c.status == SeatStatus::Held) {
                let seen = tally.seen_held.entry(change.seat_id).or_default();
                let hold = *seen;
                *seen += 1;
                match clock.nth_hold(change.seat_id, hold) {
                    Some(at) => tally
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
        let json = |m: &[u8]| LiveFormat::Json.decode(m).expect("a live message");
        measure(json(delta), &clock, &mut tally);
        assert_eq!(tally.delays_us.len(), 2);
        assert_eq!(tally.before_response, 1, "seat 8's response had not come");
        // Seat 7 held a second time: measured from its second response.
        std::thread::sleep(Duration::from_millis(20));
        clock.held([SeatId(7)], Instant::now());
        let again = br#"{"type":"delta","prev_version":2,"version":3,"changes":[{"seat_id":7,"status":"held"}]}"#;
        measure(json(again), &clock, &mut tally);
        assert!(tally.delays_us[2] < 20_000, "{:?}", tally.delays_us);
        measure(
            json(br#"{"type":"snapshot","version":2,"seats":[]}"#),
            &clock,
            &mut tally,
        );
        assert_eq!(tally.snapshots, 1);
    }
    /// A stand-in live channel on a loopback socket: the upgrade answer, a
    /// snapshot in two fragments, then a delta.
    async fn serve_one_viewer(listener: tokio::net::TcpListener, upgrade: &'static [u8]) {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        while !request.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.expect("request");
            request.push(byte[0]);
        }
        let snapshot = format!(r#"{{"type":"snapshot","version":1,"seats":[]{:>209}"#, "}");
        let (first, rest) = snapshot.as_bytes().split_at(100);
        let mut out = upgrade.to_vec();
        out.extend_from_slice(&[0x01, first.len() as u8]);
        out.extend_from_slice(first);
        out.extend_from_slice(&[0x80, 126, 0, rest.len() as u8]);
        out.extend_from_slice(rest);
        let delta = br#"{"type":"delta","prev_version":1,"version":2,"changes":[]}"#;
        out.extend_from_slice(&[0x81, delta.len() as u8]);
        out.extend_from_slice(delta);
        stream.write_all(&out).await.expect("frames");
        // Hold the socket open until the viewer is done with it.
        let _ = stream.read(&mut [0u8; 1]).await;
    }

    #[tokio::test]
    async fn bytes_per_connect_are_the_upgrade_answer_and_the_snapshot_as_received() {
        const UPGRADE: &[u8] =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        for measuring in [false, true] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr").to_string();
            let server = tokio::spawn(serve_one_viewer(listener, UPGRADE));
            let request = format!("GET /api/events/1/live HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            let mut socket = open(&addr, &request).await.expect("upgrade");
            let mut tally = Tally::default();
            let clock = HoldClock::default();
            // The frames may all have come with the upgrade answer: read
            // what is buffered before waiting for more.
            loop {
                socket
                    .process(LiveFormat::Json, measuring, &clock, &mut tally)
                    .await
                    .expect("frames");
                if tally.messages == 2 {
                    break;
                }
                let n = socket.read_more().await.expect("read");
                assert!(n > 0, "closed early");
            }
            assert_eq!(tally.snapshots, 1, "measuring: {measuring}");
            assert_eq!(socket.first_message_len, 250);
            assert_eq!(socket.upgrade_len, UPGRADE.len() as u64);
            // Two frame headers (2 and 4 bytes) around 250 bytes of payload.
            assert_eq!(socket.first_message_wire, 256);
            drop(socket);
            server.await.expect("stand-in");
        }
    }

    #[tokio::test]
    async fn a_refused_upgrade_says_so_with_its_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let server = tokio::spawn(serve_one_viewer(
            listener,
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ));
        let request = format!("GET /x HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let error = open(&addr, &request).await.err().expect("refused");
        assert_eq!(error, "upgrade refused: HTTP/1.1 404");
        server.abort();
    }
}

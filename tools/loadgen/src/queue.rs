//! `--queue-visitors N`: a queued onsale. As the demo admin, puts the
//! event behind a waiting room whose onsale is `--duration-secs` (+5 s)
//! away, then N visitors, each its own browser session, join spread evenly
//! over those seconds and poll their place at the interval the server
//! sets until they are admitted. Reports whether everyone got a place,
//! the oldest position any visitor was shown, the admission pace over the
//! first minute after the onsale against the configured rate, the most
//! shoppers active at once against the cap, and the server's memory.

use crate::args::Args;
use crate::latency::{Latency, Percentiles};
use crate::memory::{memory_of, Memory};
use app::types::EventId;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The configured pace and cap: the cap binds only after the first minute,
/// so that minute measures the pace and the rest the cap.
const ADMIT_PER_MINUTE: i64 = 1_200;
const MAX_ACTIVE: i64 = 1_500;
/// How long after the onsale the pace and the cap are watched.
const WATCH_AFTER_ONSALE: Duration = Duration::from_secs(90);
const DEMO_ADMIN: (&str, &str) = ("admin@tessera.test", "tessera-demo-admin");

#[derive(Default)]
struct Recorder {
    join_latency: Latency,
    poll_latency: Latency,
    statuses: BTreeMap<String, usize>,
    queue_ids: HashSet<String>,
    /// The longest time any visitor went between two answered polls.
    max_gap_ms: u64,
    admitted: usize,
}

#[derive(Serialize)]
pub struct QueueReport {
    event: EventId,
    visitors: usize,
    join_window_s: u64,
    placed: usize,
    joins_per_s: f64,
    join_latency: Option<Percentiles>,
    poll_latency: Option<Percentiles>,
    polls: u64,
    /// The oldest position a waiting visitor saw: the longest gap between
    /// answered polls plus the oldest copy of the room a server answers
    /// from (3 s).
    max_position_age_s: f64,
    admit_per_minute: i64,
    /// Admissions in the first minute after the onsale (the staff figure).
    admitted_first_minute: i64,
    pace_error_percent: f64,
    max_active: i64,
    max_active_seen: i64,
    admitted_seen_by_visitors: usize,
    status_counts: BTreeMap<String, usize>,
    server_memory_at_end: Option<Memory>,
    server_memory_peak_during_joins: Option<Memory>,
}

fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")?
        .to_str()
        .ok()?
        .split(';')
        .next()
        .map(str::to_string)
}

async fn staff_session(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let response = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": DEMO_ADMIN.0, "password": DEMO_ADMIN.1}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("demo admin sign-in: {}", response.status()));
    }
    cookie_of(&response).ok_or_else(|| "no session cookie".into())
}

async fn staff_call(
    client: &reqwest::Client,
    cookie: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = client.request(method, url).header("cookie", cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn rfc3339_in(from_now: Duration) -> String {
    let at = time::OffsetDateTime::now_utc() + from_now;
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One visitor: joins at its moment, then polls until admitted or `end`.
async fn visitor(
    client: reqwest::Client,
    base: Arc<str>,
    event: EventId,
    join_at: Instant,
    end: Instant,
    recorder: Arc<Mutex<Recorder>>,
) {
    tokio::time::sleep_until(join_at.into()).await;
    let url = format!("{base}/api/events/{event}/queue");
    let started = Instant::now();
    let Ok(response) = client.post(&url).send().await else {
        record_status(&recorder, "join error");
        return;
    };
    let cookie = cookie_of(&response);
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    {
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        r.join_latency.record(started.elapsed());
        *r.statuses.entry(format!("join {status}")).or_default() += 1;
        if let Some(id) = body["queue_id"].as_str() {
            r.queue_ids.insert(id.to_string());
        }
    }
    let (Some(cookie), 200) = (cookie, status) else {
        return;
    };
    let mut last_answer = Instant::now();
    let mut poll_after = body["poll_after_seconds"].as_u64().unwrap_or(5);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(poll_after)).await;
        let asked = Instant::now();
        let poll = || client.get(&url).header("cookie", &cookie).send();
        // A kept-alive connection the server closed as idle (after its
        // header-read timeout) just as the poll reused it: a browser asks
        // again at once on a new connection, and so does this visitor.
        // A poll that timed out is not asked again: that is the server
        // being slow, and it counts as a failed poll.
        let response = match poll().await {
            Err(error) if !error.is_timeout() => {
                record_status(&recorder, "poll retried after a connection error");
                poll().await
            }
            answer => answer,
        };
        let Ok(response) = response else {
            record_status(&recorder, "poll error");
            continue;
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        r.poll_latency.record(asked.elapsed());
        *r.statuses.entry(format!("poll {status}")).or_default() += 1;
        if status != 200 {
            continue;
        }
        r.max_gap_ms = r.max_gap_ms.max(last_answer.elapsed().as_millis() as u64);
        last_answer = Instant::now();
        poll_after = body["poll_after_seconds"].as_u64().unwrap_or(5);
        if body["state"] == "admitted" {
            r.admitted += 1;
            return;
        }
    }
}

fn record_status(recorder: &Mutex<Recorder>, key: &str) {
    *recorder
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .statuses
        .entry(key.to_string())
        .or_default() += 1;
}

/// Runs the queued onsale; true when every target held.
pub async fn run(
    args: &Args,
    event: EventId,
    visitors: usize,
) -> Result<bool, Box<dyn std::error::Error>> {
    let base: Arc<str> = args.base_url.trim_end_matches('/').into();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(2_048)
        .timeout(Duration::from_secs(30))
        .build()?;
    let staff = staff_session(&client, &base).await?;
    let window = Duration::from_secs(args.duration_secs.max(1));
    let onsale_in = window + Duration::from_secs(5);
    staff_call(
        &client,
        &staff,
        reqwest::Method::PATCH,
        format!("{base}/api/staff/events/{event}"),
        Some(json!({"onsale_at": rfc3339_in(onsale_in)})),
    )
    .await?;
    let staff_url = format!("{base}/api/staff/events/{event}/queue");
    staff_call(
        &client,
        &staff,
        reqwest::Method::PUT,
        staff_url.clone(),
        Some(json!({
            "enabled": true,
            "opens_at": rfc3339_in(Duration::ZERO),
            "admit_per_minute": ADMIT_PER_MINUTE,
            "max_active": MAX_ACTIVE,
        })),
    )
    .await?;
    let started = Instant::now();
    let onsale = started + onsale_in;
    let end = onsale + WATCH_AFTER_ONSALE;
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    let tasks: Vec<_> = (0..visitors)
        .map(|i| {
            let join_at = started + window.mul_f64(i as f64 / visitors as f64);
            tokio::spawn(visitor(
                client.clone(),
                base.clone(),
                event,
                join_at,
                end,
                recorder.clone(),
            ))
        })
        .collect();
    // Watch memory while they join, then the pace and the cap.
    let mut peak: Option<Memory> = None;
    let mut max_active_seen = 0;
    let mut admitted_first_minute = None;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(memory) = args.server_pid.and_then(memory_of) {
            if peak
                .as_ref()
                .is_none_or(|p| memory.vm_rss_mib > p.vm_rss_mib)
            {
                peak = Some(memory);
            }
        }
        if Instant::now() < onsale {
            continue;
        }
        // A busy server may refuse the staff view for a moment: count it
        // and ask again next second rather than end the run.
        let figures = match staff_call(
            &client,
            &staff,
            reqwest::Method::GET,
            staff_url.clone(),
            None,
        )
        .await
        {
            Ok(figures) => figures,
            Err(_) => {
                record_status(&recorder, "staff view error");
                continue;
            }
        };
        max_active_seen = max_active_seen.max(figures["active"].as_i64().unwrap_or(0));
        if admitted_first_minute.is_none() && onsale.elapsed() >= Duration::from_secs(60) {
            admitted_first_minute = figures["admitted_last_minute"].as_i64();
        }
    }
    for task in tasks {
        task.await?;
    }
    let r = std::mem::take(&mut *recorder.lock().unwrap_or_else(|p| p.into_inner()));
    let admitted_first_minute = admitted_first_minute.unwrap_or(0);
    let pace_error_percent =
        (admitted_first_minute - ADMIT_PER_MINUTE) as f64 * 100.0 / ADMIT_PER_MINUTE as f64;
    let report = QueueReport {
        event,
        visitors,
        join_window_s: window.as_secs(),
        placed: r.queue_ids.len(),
        joins_per_s: visitors as f64 / window.as_secs_f64(),
        polls: r.poll_latency.count(),
        join_latency: r.join_latency.percentiles(),
        poll_latency: r.poll_latency.percentiles(),
        max_position_age_s: r.max_gap_ms as f64 / 1000.0 + 3.0,
        admit_per_minute: ADMIT_PER_MINUTE,
        admitted_first_minute,
        pace_error_percent,
        max_active: MAX_ACTIVE,
        max_active_seen,
        admitted_seen_by_visitors: r.admitted,
        status_counts: r.statuses,
        server_memory_at_end: args.server_pid.and_then(memory_of),
        server_memory_peak_during_joins: peak,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.json_out {
        std::fs::write(path, &json)?;
    }
    let rss_ok = report
        .server_memory_peak_during_joins
        .as_ref()
        .is_none_or(|m| m.vm_rss_mib < 1024.0);
    Ok(report.placed == visitors
        && report.max_position_age_s <= 10.0
        && pace_error_percent.abs() <= 5.0
        && max_active_seen <= MAX_ACTIVE
        && rss_ok)
}

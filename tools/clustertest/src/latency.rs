//! Cross-instance delay: a hold made through one instance, seen held on
//! the live maps connected to the two others. Each delay runs from sending
//! the hold request to the delta arriving, so it includes the hold itself.

use crate::cluster::{Cluster, Error};
use crate::http::{live_url, Session};
use crate::viewer::{Seen, Viewer};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub struct Delays {
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Waits for `seat` to be reported `status` on `changes`; skips others.
async fn seen(
    changes: &mut mpsc::UnboundedReceiver<Seen>,
    seat: i64,
    status: &str,
    within: Duration,
) -> Option<Instant> {
    tokio::time::timeout(within, async {
        while let Some(change) = changes.recv().await {
            if change.seat_id == seat && change.status == status {
                return Some(change.at);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

pub async fn measure(
    cluster: &Cluster,
    client: &reqwest::Client,
    event: i64,
    seats: &[i64],
    holds: usize,
) -> Result<Delays, Error> {
    let (stop, stop_rx) = watch::channel(false);
    let mut viewers = Vec::new();
    let mut receivers = Vec::new();
    for instance in &cluster.instances {
        let (sender, receiver) = mpsc::unbounded_channel();
        viewers.push(Viewer::spawn(
            live_url(instance, event),
            stop_rx.clone(),
            Some(sender),
        ));
        receivers.push(receiver);
    }
    // Every viewer has its snapshot before the first hold.
    let ready = Instant::now();
    while viewers.iter().any(|v| v.snapshot().1.is_empty()) {
        if ready.elapsed() > Duration::from_secs(30) {
            return Err("a viewer got no snapshot within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    for (i, &seat) in seats.iter().take(holds).enumerate() {
        let through = i % cluster.instances.len();
        let mut session = Session::new();
        let sent = Instant::now();
        let reply = session
            .hold(client, &cluster.instances[through], event, &[seat])
            .await;
        let Some((201, body)) = reply else {
            return Err(format!(
                "hold of seat {seat} through instance {}: {reply:?}",
                through + 1
            )
            .into());
        };
        for (other, changes) in receivers.iter_mut().enumerate() {
            if other == through {
                continue;
            }
            let at = seen(changes, seat, "held", Duration::from_secs(5))
                .await
                .ok_or_else(|| {
                    format!(
                        "seat {seat} held through instance {} never reached instance {}'s map",
                        through + 1,
                        other + 1
                    )
                })?;
            let delay = at.saturating_duration_since(sent);
            histogram.record(delay.as_micros().max(1) as u64)?;
        }
        let hold = body["hold_id"].as_i64().ok_or("a hold without hold_id")?;
        session
            .release(client, &cluster.instances[through], hold)
            .await;
    }
    let _ = stop.send(true);
    for viewer in viewers {
        viewer.join().await;
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(Delays {
        samples: histogram.len(),
        p50_ms: ms(histogram.value_at_quantile(0.5)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
    })
}

//! The few API calls the scenarios make, each with its session cookie.

use crate::cluster::Error;
use serde_json::{json, Value};

/// A buyer's browser: one session cookie, kept from the first answer.
pub struct Session {
    pub cookie: Option<String>,
}

/// An answer, or `None` for no answer at all (refused, reset, timed out).
pub type Reply = Option<(u16, Value)>;

impl Session {
    pub fn new() -> Self {
        Self { cookie: None }
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.ok()?;
        if let Some(set) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            self.cookie = set.split(';').next().map(str::to_string);
        }
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Some((status, body))
    }

    pub async fn hold(
        &mut self,
        client: &reqwest::Client,
        base_url: &str,
        event: i64,
        seats: &[i64],
    ) -> Reply {
        let url = format!("{base_url}/api/events/{event}/holds");
        self.send(client.post(url).json(&json!({ "seat_ids": seats })))
            .await
    }

    pub async fn release(&mut self, client: &reqwest::Client, base_url: &str, hold: i64) -> Reply {
        self.send(client.delete(format!("{base_url}/api/holds/{hold}")))
            .await
    }

    pub async fn purchase(
        &mut self,
        client: &reqwest::Client,
        base_url: &str,
        hold: i64,
        key: &str,
        email: &str,
    ) -> Reply {
        let body = json!({"email": email, "payment": {"token": "tok_visa"}});
        let request = client
            .post(format!("{base_url}/api/holds/{hold}/purchase"))
            .header("idempotency-key", key)
            .json(&body);
        self.send(request).await
    }
}

/// The demo event with the most seats available (the stadium), and those seats.
pub async fn biggest_event(
    client: &reqwest::Client,
    base_url: &str,
) -> Result<(i64, Vec<i64>), Error> {
    let list: Value = client
        .get(format!("{base_url}/api/events?limit=100"))
        .send()
        .await?
        .json()
        .await?;
    let event = list["events"]
        .as_array()
        .and_then(|events| {
            events
                .iter()
                .max_by_key(|e| e["seats_available"].as_i64().unwrap_or(0))
        })
        .and_then(|e| e["id"].as_i64())
        .ok_or("no events: is the cluster in demo mode?")?;
    let map: Value = client
        .get(format!("{base_url}/api/events/{event}/seats"))
        .send()
        .await?
        .json()
        .await?;
    let seats: Vec<i64> = map["seats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] == "available")
        .filter_map(|s| s["id"].as_i64())
        .collect();
    if seats.len() < 1000 {
        return Err(format!("event {event} has only {} seats available", seats.len()).into());
    }
    Ok((event, seats))
}

/// `http://host:port` → `ws://host:port/api/events/{event}/live`.
pub fn live_url(base_url: &str, event: i64) -> String {
    format!(
        "{}/api/events/{event}/live",
        base_url.replacen("http://", "ws://", 1)
    )
}

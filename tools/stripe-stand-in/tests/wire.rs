//! The stand-in over HTTP, as a client of Stripe would see it.

use serde_json::Value;
use std::time::Duration;
use stripe_stand_in::{Options, StripeStandIn, SECRET_KEY};

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(stand_in: &StripeStandIn) -> Self {
        Self {
            base: stand_in.base_url.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, key: Option<&str>, form: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .form(form);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("request");
        (
            response.status().as_u16(),
            response.json().await.expect("JSON"),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .expect("request");
        (
            response.status().as_u16(),
            response.json().await.expect("JSON"),
        )
    }
}

const INTENT: &[(&str, &str)] = &[
    ("amount", "5000"),
    ("currency", "usd"),
    ("metadata[purchase_id]", "1"),
];

#[tokio::test]
async fn an_idempotency_key_replays_its_first_reply_and_refuses_other_parameters() {
    let stand_in = StripeStandIn::start().await.expect("start");
    let client = Client::new(&stand_in);
    let (status, first) = client.post("/v1/payment_intents", Some("k1"), INTENT).await;
    assert_eq!(
        (status, &first["status"]),
        (200, &Value::from("requires_payment_method"))
    );
    let (_, again) = client.post("/v1/payment_intents", Some("k1"), INTENT).await;
    assert_eq!(again, first);
    assert_eq!(stand_in.intents_created(), 1);

    let other = [("amount", "6000"), ("currency", "usd")];
    let (status, refused) = client.post("/v1/payment_intents", Some("k1"), &other).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["type"], "idempotency_error");
    // A request refused for its parameters is not kept: the key stays free.
    let (status, _) = client
        .post("/v1/payment_intents", Some("k2"), &[("currency", "usd")])
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        client
            .post("/v1/payment_intents", Some("k2"), INTENT)
            .await
            .0,
        200
    );

    let wrong = client
        .http
        .post(format!("{}/v1/payment_intents", client.base))
        .bearer_auth("sk_test_wrong")
        .form(INTENT)
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status().as_u16(), 401);
}

#[tokio::test]
async fn a_payment_is_confirmed_refunded_once_and_listed_in_the_records() {
    let stand_in = StripeStandIn::start().await.expect("start");
    let client = Client::new(&stand_in);
    let (_, intent) = client.post("/v1/payment_intents", Some("p1"), INTENT).await;
    let id = intent["id"].as_str().expect("id");
    let confirm = format!("/v1/payment_intents/{id}/confirm");
    let card = [
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][token]", "tok_visa"),
    ];
    let (status, paid) = client.post(&confirm, Some("c1"), &card).await;
    assert_eq!((status, &paid["status"]), (200, &Value::from("succeeded")));
    let (status, again) = client.post(&confirm, Some("c2"), &card).await;
    assert_eq!(status, 400, "{again}");
    assert_eq!(again["error"]["code"], "payment_intent_unexpected_state");

    let refund = [("payment_intent", id)];
    assert_eq!(client.post("/v1/refunds", Some("r1"), &refund).await.0, 200);
    assert_eq!(
        client.post("/v1/refunds", Some("r1"), &refund).await.0,
        200,
        "a replay"
    );
    let (status, twice) = client.post("/v1/refunds", Some("r2"), &refund).await;
    assert_eq!(status, 400);
    assert_eq!(twice["error"]["code"], "charge_already_refunded");
    assert_eq!(stand_in.refunds(), 1);

    let (_, records) = client.get("/_stand_in/payment_intents").await;
    let record = &records["data"][0];
    assert_eq!(record["id"], id);
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["amount_refunded"], 5000);
    assert_eq!(record["metadata"]["purchase_id"], "1");
}

#[tokio::test]
async fn declines_processing_errors_and_cancellation_follow_stripes_statuses() {
    let stand_in = StripeStandIn::start().await.expect("start");
    let client = Client::new(&stand_in);
    for (token, code) in [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_processing_error", "processing_error"),
    ] {
        let (_, intent) = client.post("/v1/payment_intents", None, INTENT).await;
        let id = intent["id"].as_str().expect("id");
        let card = [
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][token]", token),
        ];
        let (status, error) = client
            .post(&format!("/v1/payment_intents/{id}/confirm"), None, &card)
            .await;
        assert_eq!(status, 402);
        assert_eq!(error["error"]["code"], code);
        let (_, now) = client.get(&format!("/v1/payment_intents/{id}")).await;
        assert_eq!(now["status"], "requires_payment_method");
        assert_eq!(now["last_payment_error"]["code"], code);
        let (_, canceled) = client
            .post(&format!("/v1/payment_intents/{id}/cancel"), None, &[])
            .await;
        assert_eq!(canceled["status"], "canceled");
    }
    let (status, missing) = client.get("/v1/payment_intents/pi_nope").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "resource_missing");
}

#[tokio::test]
async fn a_request_in_flight_holds_its_key_and_lands_even_if_its_reply_is_lost() {
    let stand_in = StripeStandIn::start_with(Options {
        latency: Duration::from_millis(300),
        search_lag: Duration::from_secs(3600),
        ..Options::default()
    })
    .await
    .expect("start");
    let client = Client::new(&stand_in);
    let (first, second) = tokio::join!(
        client.post("/v1/payment_intents", Some("busy"), INTENT),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            client
                .post("/v1/payment_intents", Some("busy"), INTENT)
                .await
        }
    );
    assert_eq!(first.0, 200);
    assert_eq!(second.0, 409, "{}", second.1);

    stand_in.lose_next_replies(1);
    let (status, _) = client
        .post("/v1/payment_intents", Some("lost"), INTENT)
        .await;
    assert_eq!(status, 500);
    let (status, replayed) = client
        .post("/v1/payment_intents", Some("lost"), INTENT)
        .await;
    assert_eq!(
        status, 200,
        "the request was carried out: its replay has the intent"
    );
    assert_eq!(stand_in.intents_created(), 2);
    let (_, found) = client
        .get("/v1/payment_intents/search?query=metadata%5B%27purchase_id%27%5D%3A%271%27")
        .await;
    assert_eq!(found["data"], Value::Array(vec![]), "the index lags");
    assert!(replayed["id"].is_string());
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stripe-stand-in"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--latency-ms",
            "5",
            "--search-lag-ms",
            "10",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let base = lines.next_line().await.expect("read").expect("a line");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let records: Value = reqwest::get(format!("{base}/_stand_in/payment_intents"))
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(records["data"], Value::Array(vec![]));
    child.kill().await.expect("kill");
}

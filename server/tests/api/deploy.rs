//! The README's "Deploying" section followed with the real `server` binary
//! on a fresh database: no demo data, no demo admin, nothing for sale
//! without a payment processor, and the first admin from the operator
//! command `server admin create`.

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

const ADMIN_PASSWORD: &str = "a long operator passphrase";

/// The binary with only the environment a test gives it, run in `dir` (so
/// files it creates, like the ticket key, land there).
fn server_command(database_url: &str, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env_clear()
        .current_dir(dir)
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1");
    command
}

/// `server admin create --email EMAIL [ARGS…]` with `stdin` as its input.
async fn admin_create(database_url: &str, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = server_command(database_url, dir);
    command
        .args(["admin", "create"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("start server admin create");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("admin create output")
    })
    .await
    .expect("join")
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The real server, serving until dropped (which kills and reaps it).
struct ServerProcess {
    child: Child,
    base_url: String,
    start_up: String,
}

impl ServerProcess {
    async fn start(mut command: Command) -> Self {
        let mut child = command
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, mut log) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut start_up = String::new();
        let base_url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = log.recv().await {
                if line.contains("starting: ") {
                    start_up = line.clone();
                }
                if let Some((_, url)) = line.split_once("listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!("the server stopped before listening")
        })
        .await
        .expect("the server listens within a minute");
        Self {
            child,
            base_url,
            start_up,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser-like client of a server process, with its session cookie.
struct Client {
    http: reqwest::Client,
    base_url: String,
    cookie: Option<String>,
}

impl Client {
    fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.to_string(),
            cookie: None,
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("idempotency-key", "deploy-test-0001");
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        if let Some(set_cookie) = response.headers().get("set-cookie") {
            let pair = set_cookie.to_str().expect("ascii").split(';').next();
            self.cookie = pair.map(str::to_string);
        }
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> (u16, Value) {
        self.send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tessera-{name}-{}-{}",
        std::process::id(),
        server::clock::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn the_readme_deploy_gives_an_empty_site_with_no_demo_admin_and_nothing_for_sale() {
    let database_url = fresh_database_url().await;
    let dir = temp_dir("deploy");
    let server = ServerProcess::start(server_command(&database_url, &dir)).await;
    assert!(
        server.start_up.contains("mode=production database=")
            && server.start_up.contains(" payments=none mail=log"),
        "{}",
        server.start_up
    );

    let mut visitor = Client::new(&server.base_url);
    let (status, events) = visitor.send(Method::GET, "/api/events", None).await;
    assert_eq!((status, &events["events"]), (200, &json!([])));
    let (status, _) = visitor
        .sign_in(
            server::demo::DEMO_ADMIN_EMAIL,
            server::demo::DEMO_ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(status, 401, "the demo admin does not exist");

    // The first admin, from the operator command, while the server runs.
    let password_file = dir.join("admin-password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).expect("password file");
    let password_file = password_file.to_str().expect("utf-8 path");
    let created = admin_create(
        &database_url,
        &dir,
        &[
            "--email",
            "Ops@Example.com",
            "--password-file",
            password_file,
        ],
        "",
    )
    .await;
    assert!(created.status.success(), "{}", output_text(&created));
    let mut admin = Client::new(&server.base_url);
    let (status, me) = admin.sign_in("ops@example.com", ADMIN_PASSWORD).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")), "{me}");

    // The admin puts an event on sale; a fan holds a seat and cannot pay.
    let venue = json!({"name": "Corn Hall", "city": "Leeds", "layout": {"kind": "stage",
        "sections": [{"name": "Stalls", "rows": 2, "seats_per_row": 5}]}});
    let (status, venue) = admin
        .send(Method::POST, "/api/staff/venues", Some(venue))
        .await;
    assert_eq!(status, 201, "{venue}");
    let starts_at = server::clock::format_ms(server::clock::now_ms() + 10 * DAY_MS);
    let event = json!({"venue_id": venue["venue_id"], "name": "Quartet", "description": "",
        "starts_at": starts_at, "tiers": [{"name": "Stalls", "price_cents": 4500}],
        "section_tiers": {"Stalls": "Stalls"}});
    let (status, event) = admin
        .send(Method::POST, "/api/staff/events", Some(event))
        .await;
    assert_eq!(status, 201, "{event}");
    let (_, map) = visitor
        .send(
            Method::GET,
            &format!("/api/events/{}/seats", event["event_id"]),
            None,
        )
        .await;
    let seat = &map["seats"][0]["id"];
    let (status, hold) = visitor
        .send(
            Method::POST,
            &format!("/api/events/{}/holds", event["event_id"]),
            Some(json!({"seat_ids": [seat]})),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    let (status, refused) = visitor
        .send(
            Method::POST,
            &format!("/api/holds/{}/purchase", hold["hold_id"]),
            Some(json!({"email": "fan@example.com", "payment": {"token": "tok_visa"}})),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (503, Some("payments_not_configured")),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin_and_refuses_short_passwords_and_taken_emails() {
    let database_url = fresh_database_url().await;
    let dir = temp_dir("admin-create");
    let email = ["--email", "root@example.com"];

    let short = admin_create(&database_url, &dir, &email, "short\n").await;
    assert!(!short.status.success());
    assert!(
        output_text(&short).contains("8 to 128 characters"),
        "{}",
        output_text(&short)
    );
    let missing = admin_create(
        &database_url,
        &dir,
        &[
            "--email",
            "root@example.com",
            "--password-file",
            "/nonexistent/file",
        ],
        "",
    )
    .await;
    assert!(!missing.status.success());
    assert!(output_text(&missing).contains("cannot read the password"));

    let created = admin_create(&database_url, &dir, &email, &format!("{ADMIN_PASSWORD}\n")).await;
    assert!(created.status.success(), "{}", output_text(&created));
    let again = admin_create(&database_url, &dir, &email, "another passphrase\n").await;
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("already exists"),
        "{}",
        output_text(&again)
    );

    // The account works through the API, with the first password only.
    let app = spawn_app_with(server::config::Config::for_database(database_url)).await;
    let mut admin = Buyer::new(&app);
    let login = |password: &str| json!({"email": "root@example.com", "password": password});
    let (status, _) = admin
        .send(
            Method::POST,
            "/api/auth/login",
            Some(login("another passphrase")),
        )
        .await;
    assert_eq!(status, 401);
    let (status, me) = admin
        .send(Method::POST, "/api/auth/login", Some(login(ADMIN_PASSWORD)))
        .await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")), "{me}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `server backup FILE` against the live SQLite database of a running
/// server; the copy, with the same ticket-signing key, serves the same site.
#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_the_same_site() {
    let dir = temp_dir("backup");
    let database_url = format!("sqlite://{}/tessera.db", dir.display());
    let password_file = dir.join("admin-password");
    std::fs::write(&password_file, ADMIN_PASSWORD).expect("password file");
    let password_file = password_file.to_str().expect("utf-8 path");
    let created = admin_create(
        &database_url,
        &dir,
        &[
            "--email",
            "ops@example.com",
            "--password-file",
            password_file,
        ],
        "",
    )
    .await;
    assert!(created.status.success(), "{}", output_text(&created));
    let server = ServerProcess::start(server_command(&database_url, &dir)).await;
    let mut admin = Client::new(&server.base_url);
    assert_eq!(
        admin.sign_in("ops@example.com", ADMIN_PASSWORD).await.0,
        200
    );
    let venue = json!({"name": "Corn Hall", "city": "Leeds", "layout": {"kind": "stage",
        "sections": [{"name": "Stalls", "rows": 2, "seats_per_row": 5}]}});
    let (status, venue) = admin
        .send(Method::POST, "/api/staff/venues", Some(venue))
        .await;
    assert_eq!(status, 201, "{venue}");
    let starts_at = server::clock::format_ms(server::clock::now_ms() + 10 * DAY_MS);
    let event = json!({"venue_id": venue["venue_id"], "name": "Quartet", "description": "",
        "starts_at": starts_at, "tiers": [{"name": "Stalls", "price_cents": 4500}],
        "section_tiers": {"Stalls": "Stalls"}});
    let (status, event) = admin
        .send(Method::POST, "/api/staff/events", Some(event))
        .await;
    assert_eq!(status, 201, "{event}");

    let backup = |file: &'static str| {
        let mut command = server_command(&database_url, &dir);
        command.args(["backup", file]);
        tokio::task::spawn_blocking(move || command.output().expect("server backup"))
    };
    let copied = backup("copy.db").await.expect("join");
    assert!(copied.status.success(), "{}", output_text(&copied));
    assert!(
        output_text(&copied).contains("ticket-signing key"),
        "the operator is reminded of the key: {}",
        output_text(&copied)
    );
    let again = backup("copy.db").await.expect("join");
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    assert!(
        output_text(&again).contains("exists already"),
        "{}",
        output_text(&again)
    );
    // The original keeps serving.
    assert_eq!(
        admin.sign_in("ops@example.com", ADMIN_PASSWORD).await.0,
        200
    );
    drop(server);

    // Restore: a server on the copy, with the same key file (in `dir`).
    let restored_url = format!("sqlite://{}/copy.db", dir.display());
    let restored = ServerProcess::start(server_command(&restored_url, &dir)).await;
    let mut admin = Client::new(&restored.base_url);
    let (status, me) = admin.sign_in("ops@example.com", ADMIN_PASSWORD).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")), "{me}");
    let (status, detail) = admin
        .send(
            Method::GET,
            &format!("/api/events/{}", event["event_id"]),
            None,
        )
        .await;
    assert_eq!(
        (status, detail["name"].as_str()),
        (200, Some("Quartet")),
        "{detail}"
    );
    drop(restored);
    let _ = std::fs::remove_dir_all(&dir);
}

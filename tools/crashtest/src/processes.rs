//! The processes under test: the Stripe stand-in, started once, and the
//! server, killed with SIGKILL and restarted on the same port and database.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stand-in, stopped when dropped.
pub struct StandIn {
    child: Child,
    pub base_url: String,
}

impl StandIn {
    /// Starts it on a free loopback port; its first line on stdout is its
    /// API base, printed once it accepts connections.
    pub async fn start(
        bin: &Path,
        secret_key: &str,
        latency_ms: u64,
        search_lag_ms: u64,
        log: &Path,
    ) -> Result<Self, Error> {
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0", "--secret-key", secret_key])
            .args(["--latency-ms", &latency_ms.to_string()])
            .args(["--search-lag-ms", &search_lag_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(File::create(log)?)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("the stand-in has no stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let base_url = line.trim().to_string();
        if !base_url.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            return Err(format!("the stand-in printed {base_url:?}, not its address").into());
        }
        Ok(Self { child, base_url })
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server: one process at a time, each with a log of its own.
pub struct Server {
    bin: PathBuf,
    pub addr: SocketAddr,
    env: Vec<(String, String)>,
    logs: PathBuf,
    child: Option<Child>,
    /// Processes started so far.
    pub started: usize,
}

impl Server {
    pub fn new(bin: PathBuf, addr: SocketAddr, env: Vec<(String, String)>, logs: PathBuf) -> Self {
        Self {
            bin,
            addr,
            env,
            logs,
            child: None,
            started: 0,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts a process (from the current directory: the site root is
    /// relative to the workspace root).
    pub fn start(&mut self) -> Result<(), Error> {
        let log = File::create(self.logs.join(format!("server-{}.log", self.started)))?;
        let child = Command::new(&self.bin)
            .env("LEPTOS_SITE_ADDR", self.addr.to_string())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.bin.display()))?;
        self.child = Some(child);
        self.started += 1;
        Ok(())
    }

    /// `kill -9`: no shutdown, no flush, whatever it was doing.
    pub fn kill(&mut self) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Waits until `/healthz` answers 200; fails if the process exits or
    /// `limit` passes first.
    pub async fn wait_healthy(
        &mut self,
        client: &reqwest::Client,
        limit: Duration,
    ) -> Result<(), Error> {
        let url = format!("{}/healthz", self.base_url());
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_wait()? {
                    return Err(format!(
                        "server {} exited ({status}); see its log in {}",
                        self.started - 1,
                        self.logs.display()
                    )
                    .into());
                }
            }
            if started.elapsed() > limit {
                return Err(format!("server not healthy after {limit:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

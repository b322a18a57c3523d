//! `scripts/cluster.sh`, driven as an operator would: start, kill -9 an
//! instance, restart one, stop.

use std::path::PathBuf;
use std::process::Stdio;
use tokio::process::Command;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Cluster {
    script: PathBuf,
    /// The load balancer (nginx).
    pub base_url: String,
    /// Each instance directly, bypassing nginx.
    pub instances: Vec<String>,
    pub database_url: String,
}

async fn run(script: &PathBuf, args: &[&str]) -> Result<String, Error> {
    let output = Command::new(script)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!("cluster.sh {} failed: {}", args.join(" "), output.status).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl Cluster {
    /// `cluster.sh start`; its last line is the load balancer's URL.
    pub async fn start(script: PathBuf) -> Result<Self, Error> {
        let printed = run(&script, &["start"]).await?;
        let base_url = printed
            .lines()
            .last()
            .ok_or("cluster.sh start printed nothing")?
            .to_string();
        let mut instances = Vec::new();
        for n in 1..=3 {
            instances.push(run(&script, &["url", &n.to_string()]).await?);
        }
        let database_url = run(&script, &["url", "db"]).await?;
        Ok(Self {
            script,
            base_url,
            instances,
            database_url,
        })
    }

    pub async fn kill(&self, instance: usize) -> Result<(), Error> {
        run(&self.script, &["kill", &instance.to_string()])
            .await
            .map(drop)
    }

    /// Starts the instance again; a running one is stopped gracefully first.
    pub async fn restart(&self, instance: usize) -> Result<(), Error> {
        run(&self.script, &["restart", &instance.to_string()])
            .await
            .map(drop)
    }

    pub async fn stop(&self) -> Result<(), Error> {
        run(&self.script, &["stop"]).await.map(drop)
    }
}

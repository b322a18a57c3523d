//! deploy/compose.yaml describes the topology `scripts/cluster.sh` runs:
//! the same number of instances, each given the same settings and probed
//! on the same readiness path, started in the same order, behind nginx
//! proxying with the same locations file, on PostgreSQL. Nothing is
//! started: the script reports its topology (`cluster.sh topology`) and
//! the files are read.

use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cluster_topology() -> Json {
    let output = Command::new(root().join("scripts/cluster.sh"))
        .arg("topology")
        .output()
        .expect("run cluster.sh topology");
    assert!(output.status.success(), "cluster.sh topology failed");
    serde_json::from_slice(&output.stdout).expect("topology is JSON")
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(root().join("deploy/compose.yaml")).expect("compose.yaml");
    serde_norway::from_str(&text).expect("compose.yaml is YAML")
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

/// A healthcheck's command as one line.
fn health_command(service: &Yaml) -> String {
    service["healthcheck"]["test"]
        .as_sequence()
        .expect("a healthcheck with a test command")
        .iter()
        .map(text)
        .collect::<Vec<_>>()
        .join(" ")
}

fn depends_on_healthy(service: &Yaml, other: &str) -> bool {
    service["depends_on"][other]["condition"].as_str() == Some("service_healthy")
}

#[test]
fn compose_runs_the_instances_cluster_sh_runs_with_the_same_settings_and_probes() {
    let topology = cluster_topology();
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let instances = topology["instances"].as_u64().expect("instances") as usize;
    let names: Vec<String> = (1..=instances).map(|n| format!("tessera{n}")).collect();
    let tessera_services: Vec<_> = services
        .iter()
        .filter(|(_, s)| s["image"].as_str() == Some("tessera:latest"))
        .map(|(name, _)| text(name))
        .collect();
    assert_eq!(
        tessera_services, names,
        "one service per cluster.sh instance"
    );
    let ready = topology["ready_path"].as_str().expect("ready path");
    let instance_env: Vec<&str> = topology["instance_env"]
        .as_array()
        .expect("instance_env")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(instance_env.contains(&"TESSERA_TRUSTED_PROXIES"));
    for (i, name) in names.iter().enumerate() {
        let service = &compose["services"][name.as_str()];
        let env = service["environment"].as_mapping().expect("environment");
        for key in &instance_env {
            assert!(
                env.contains_key(*key),
                "{name} lacks {key}, which cluster.sh gives every instance"
            );
        }
        for key in topology["default_env"]
            .as_object()
            .expect("default_env")
            .keys()
        {
            assert!(env.contains_key(key.as_str()), "{name} cannot set {key}");
        }
        let addr = text(&service["environment"]["LEPTOS_SITE_ADDR"]);
        let port = addr.rsplit(':').next().expect("a port");
        assert!(
            service["expose"]
                .as_sequence()
                .is_some_and(|ports| ports.iter().any(|p| text(p) == port)),
            "{name} exposes the port it listens on ({port})"
        );
        assert_eq!(
            health_command(service),
            format!("CMD curl -fsS http://127.0.0.1:{port}{ready}"),
            "{name} is probed as cluster.sh probes its instances"
        );
        assert!(
            text(&service["environment"]["DATABASE_URL"]).starts_with("postgres://"),
            "{name} shares the PostgreSQL database"
        );
        // cluster.sh starts instance 1 alone (it migrates and creates the
        // key), then the others.
        let first = if i == 0 { "postgres" } else { "tessera1" };
        assert!(
            depends_on_healthy(service, first),
            "{name} waits for {first}"
        );
    }
    let key_files: std::collections::BTreeSet<String> = names
        .iter()
        .map(|n| text(&compose["services"][n.as_str()]["environment"]["TESSERA_TICKET_KEY_FILE"]))
        .collect();
    assert_eq!(key_files.len(), 1, "one signing key for all instances");

    assert_eq!(topology["database"], "postgres");
    let postgres = &compose["services"]["postgres"];
    assert!(text(&postgres["image"]).starts_with("postgres:"));
    assert!(health_command(postgres).contains("pg_isready"));
}

#[test]
fn compose_puts_nginx_in_front_with_the_proxying_cluster_sh_uses() {
    let topology = cluster_topology();
    let compose = compose();
    assert_eq!(topology["proxy"], "nginx");
    let nginx = &compose["services"]["nginx"];
    assert!(text(&nginx["image"]).starts_with("nginx:"));
    assert!(
        nginx["ports"].as_sequence().is_some_and(|p| !p.is_empty()),
        "nginx is published"
    );
    let locations = topology["proxy_locations"]
        .as_str()
        .expect("locations file");
    let file_name = Path::new(locations).file_name().expect("file name");
    let mounts: Vec<String> = nginx["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(text)
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with(&format!("./nginx/{}:", file_name.to_string_lossy()))),
        "nginx proxies with the same locations file as cluster.sh: {mounts:?}"
    );
    assert!(root().join(locations).is_file());
    let instances = topology["instances"].as_u64().expect("instances");
    let conf = std::fs::read_to_string(root().join("deploy/nginx/nginx.conf")).expect("nginx.conf");
    for n in 1..=instances {
        let name = format!("tessera{n}");
        let port = text(&compose["services"][name.as_str()]["environment"]["LEPTOS_SITE_ADDR"])
            .rsplit(':')
            .next()
            .map(str::to_string)
            .expect("port");
        assert!(
            conf.contains(&format!("server {name}:{port} ")),
            "the upstream lists {name}:{port}"
        );
        assert!(depends_on_healthy(nginx, &name));
    }
    assert!(health_command(nginx).ends_with(topology["ready_path"].as_str().expect("path")));
    // The instances trust X-Forwarded-For from nginx's address only.
    let nginx_ip = text(&nginx["networks"]["tessera"]["ipv4_address"]);
    let trusted = text(&compose["services"]["tessera1"]["environment"]["TESSERA_TRUSTED_PROXIES"]);
    assert_eq!(trusted, format!("{nginx_ip}/32"));
    // The cluster's own nginx configuration includes the same file.
    let cluster_conf =
        std::fs::read_to_string(root().join("deploy/nginx/cluster.conf.in")).expect("template");
    assert!(cluster_conf.contains(&format!("include @DIR@/{}", file_name.to_string_lossy())));
}

#[test]
fn the_image_runs_as_a_non_root_user_with_the_site_files() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).expect("Dockerfile");
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, last)| last)
        .expect("a multi-stage build");
    let user = runtime
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("the runtime stage sets a USER");
    assert!(!matches!(user.trim(), "root" | "0"), "runs as {user}");
    for copied in [
        "target/release/server",
        "target/site",
        "target/release/hash.txt",
    ] {
        assert!(runtime.contains(copied), "the image has {copied}");
    }
}

//! Tessera's server: configuration, storage, the catalog, demo data and the
//! HTTP surface. `main.rs` only wires these together.

// Leptos views are deeply nested types; rendering the event page in a
// release build needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod accounts;
pub mod catalog;
pub mod checkout;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod gzip;
pub mod inventory;
pub mod lifecycle;
pub mod live;
pub mod mail;
pub mod net;
pub mod openapi;
pub mod payments;
pub mod queue;
pub mod session;
pub mod staff;
pub mod store;
pub mod ticket_codes;
pub mod tickets;
pub mod validation;
pub mod web;

use leptos::config::LeptosOptions;

/// Leptos options for running outside cargo-leptos (tests, tools): the
/// compiled-in output name and the site under `target/site`.
pub fn default_leptos_options(site_addr: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("tessera")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .build()
}

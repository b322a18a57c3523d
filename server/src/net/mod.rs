//! The client behind a request and what one client may do: its address
//! (through trusted proxies only), and the per-address caps on new holds,
//! new sessions and registrations.

pub mod client_addr;
pub mod limits;
pub mod rates;

pub use client_addr::{ClientAddr, ClientKey, TrustedProxies};
pub use limits::{ClientLimits, LimitSettings};

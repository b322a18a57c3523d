//! The client behind a request. Its address is the connection's peer,
//! unless that peer is one of our own proxies (`TESSERA_TRUSTED_PROXIES`):
//! then `X-Forwarded-For` is read from the right, past every trusted hop,
//! and the first address no proxy of ours vouches for is the client. Hops
//! further left were written by the client itself and are never believed.
//!
//! Limits key on [`ClientKey`]: an IPv4 address, or the /64 prefix of an
//! IPv6 one (a household or a phone gets a whole /64, so counting single
//! IPv6 addresses would hand everyone 2^64 allowances).

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The proxies whose `X-Forwarded-For` is believed; empty by default.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|network| network.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, from dual-stack
/// sockets) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// What per-address limits count by: an IPv4 address or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            v4 => Self(v4),
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The client's address as far as we can trust it.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.contains(client) {
        return client;
    }
    for hop in forwarded_for
        .rev()
        .flat_map(|header| header.split(',').rev())
        .map(str::trim)
    {
        // A hop we cannot read was written by someone we do not trust:
        // the last proxy that vouched for its neighbour is as far as we go.
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = canonical(ip);
        if !trusted.contains(client) {
            return client;
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, and the forms with a port some proxies
/// write (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

/// The request's client address and the key limits count it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub key: ClientKey,
}

impl ClientAddr {
    /// From the connection's peer and the request's `X-Forwarded-For`
    /// headers (in the order they came).
    pub fn from_parts(parts: &axum::http::request::Parts, trusted: &TrustedProxies) -> Self {
        // Without connection info (a router called in-process) there is no
        // peer: all such requests are one client.
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        let headers: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        if !headers.is_empty() && !trusted.contains(peer) {
            warn_once_untrusted_forwarding(peer);
        }
        let ip = client_ip(peer, headers.into_iter(), trusted);
        Self {
            ip,
            key: ClientKey::of(ip),
        }
    }
}

/// Behind a load balancer that is not listed as trusted, every buyer looks
/// like the balancer, and shares one address's allowance: say so once.
fn warn_once_untrusted_forwarding(peer: IpAddr) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "X-Forwarded-For from a peer that is not a trusted proxy: ignored. Behind a load \
             balancer, list it in TESSERA_TRUSTED_PROXIES, or every client counts as its address"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|n| n.parse().expect("cidr")).collect())
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies_and_only_past_them() {
        let trusted = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let client = |peer: &str, headers: &[&str]| {
            client_ip(ip(peer), headers.iter().copied(), &trusted).to_string()
        };
        // An untrusted peer's header is ignored whatever it says.
        assert_eq!(client("203.0.113.9", &["198.51.100.1"]), "203.0.113.9");
        // From a trusted balancer: the right-most hop it did not write itself.
        assert_eq!(client("10.0.0.2", &["198.51.100.1"]), "198.51.100.1");
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6, 198.51.100.1, 10.1.1.1"]),
            "198.51.100.1",
            "a spoofed left-most hop is never the client"
        );
        assert_eq!(
            client("10.0.0.2", &["6.6.6.6", "198.51.100.1"]),
            "198.51.100.1",
            "several headers read as one list"
        );
        assert_eq!(client("10.0.0.2", &["[2001:db8::5]:443"]), "2001:db8::5");
        assert_eq!(client("10.0.0.2", &["garbage, 10.9.9.9"]), "10.9.9.9");
        assert_eq!(client("10.0.0.2", &[]), "10.0.0.2");
        assert_eq!(client("::ffff:10.0.0.2", &["198.51.100.1"]), "198.51.100.1");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        let key = |text: &str| ClientKey::of(ip(text));
        assert_eq!(
            key("2001:db8:1:2:aaaa::1"),
            key("2001:db8:1:2:bbbb::9"),
            "one /64"
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2:aaaa::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(key("192.0.2.1").to_string(), "192.0.2.1");
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
    }
}

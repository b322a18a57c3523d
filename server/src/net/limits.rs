//! What one client address may do, on top of the per-buyer ticket limit:
//! hold at most so many seats of one event at once (counted in the
//! database by the hold writer, so it holds across servers), start at most
//! so many holds and new sessions a minute, and register at most so many
//! accounts an hour (rates in this server's memory, see [`super::rates`]).
//!
//! `TESSERA_CLIENT_LIMITS=off` turns all of these off, for load tests and
//! benchmarks that send everything from one loopback address.

use super::client_addr::{ClientAddr, ClientKey, TrustedProxies};
use super::rates::{AddressRate, MAX_TRACKED};
use app::error::ApiError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use governor::Quota;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The per-address policy, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    pub enabled: bool,
    pub seats_per_event: i64,
    pub holds_per_minute: NonZeroU32,
    pub sessions_per_minute: NonZeroU32,
    pub registrations_per_hour: NonZeroU32,
}

#[derive(Debug)]
struct Rates {
    holds: AddressRate,
    sessions: AddressRate,
    registrations: AddressRate,
}

#[derive(Clone, Debug)]
pub struct ClientLimits {
    trusted: TrustedProxies,
    seats_per_event: i64,
    /// `None` when the limits are off.
    rates: Option<Arc<Rates>>,
}

impl ClientLimits {
    pub fn new(settings: LimitSettings, trusted: TrustedProxies) -> Self {
        let rates = settings.enabled.then(|| {
            Arc::new(Rates {
                holds: AddressRate::new(Quota::per_minute(settings.holds_per_minute), MAX_TRACKED),
                sessions: AddressRate::new(
                    Quota::per_minute(settings.sessions_per_minute),
                    MAX_TRACKED,
                ),
                registrations: AddressRate::new(
                    Quota::per_hour(settings.registrations_per_hour),
                    MAX_TRACKED,
                ),
            })
        });
        Self {
            trusted,
            seats_per_event: settings.seats_per_event,
            rates,
        }
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// Seats one address may hold at once in one event; `None` when off.
    pub fn seats_per_event(&self) -> Option<i64> {
        self.rates.as_ref().map(|_| self.seats_per_event)
    }

    /// Counts a hold request; one from a request without a session (the
    /// hold will start one) also counts as a new session.
    pub fn check_hold(&self, client: ClientKey, new_session: bool) -> Result<(), ApiError> {
        let Some(rates) = &self.rates else {
            return Ok(());
        };
        if new_session {
            rates.sessions.check(client).map_err(|wait| {
                refused("too many new visitors from your network right now", wait)
            })?;
        }
        rates
            .holds
            .check(client)
            .map_err(|wait| refused("too many holds from your network right now", wait))
    }

    /// Counts a registration: each costs a deliberately slow password hash.
    pub fn check_registration(&self, client: ClientKey) -> Result<(), ApiError> {
        let Some(rates) = &self.rates else {
            return Ok(());
        };
        rates
            .registrations
            .check(client)
            .map_err(|wait| refused("too many new accounts from your network", wait))
    }
}

fn refused(what: &str, wait: Duration) -> ApiError {
    ApiError::rate_limited(
        format!("{what}; try again in {} seconds", wait.as_secs().max(1)),
        wait,
    )
}

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    ClientLimits: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(
            parts,
            ClientLimits::from_ref(state).trusted_proxies(),
        ))
    }
}

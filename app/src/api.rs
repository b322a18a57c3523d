//! Server functions the pages call. They are thin: each one forwards to the
//! same [`Backend`] service the REST handlers use, so both behave the same.

use crate::error::ApiError;
use crate::types::{EventDetail, EventId, EventList, EventQuery};
use leptos::prelude::*;

/// The service layer the server provides to the pages through Leptos context.
/// Implemented in the `server` crate on top of the store.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn list_events(&self, query: EventQuery) -> Result<EventList, ApiError>;
    async fn event_detail(&self, id: EventId) -> Result<EventDetail, ApiError>;
}

#[cfg(feature = "ssr")]
pub type SharedBackend = std::sync::Arc<dyn Backend>;

#[cfg(feature = "ssr")]
fn backend() -> Result<SharedBackend, ApiError> {
    use_context::<SharedBackend>().ok_or_else(|| {
        leptos::logging::error!("Backend missing from Leptos context");
        ApiError::internal()
    })
}

#[server(prefix = "/sfn", endpoint = "load_events")]
pub async fn load_events(query: EventQuery) -> Result<EventList, ApiError> {
    backend()?.list_events(query).await
}

#[server(prefix = "/sfn", endpoint = "load_event")]
pub async fn load_event(id: EventId) -> Result<EventDetail, ApiError> {
    backend()?.event_detail(id).await
}

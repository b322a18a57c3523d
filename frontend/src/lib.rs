//! Browser entry point: hydrates the server-rendered page with the same `App`.

// The event page's view type (map, queue notice, facts) is deeper than the
// default limit when the browser build computes its layout, as on the server.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

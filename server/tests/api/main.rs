//! Every integration test, as one binary (one link instead of one per
//! file): each module is one area of the API, `common` the harness they
//! share — a real server on a free port with a fresh database per test.

mod common;

mod accessible_seating;
mod account_admin;
mod accounts_api;
mod card_data;
mod card_form;
mod catalog_api;
mod checkout_api;
mod client_limits;
mod demo_data;
mod deploy;
mod email;
mod hold_batches;
mod holds_api;
mod inventory_model;
mod live_channel;
mod live_compact;
mod openapi_contract;
mod operations;
mod payment_recovery;
mod purchase_migration;
mod sales_tally;
mod secure_defaults;
mod serving;
mod staff_api;
mod stripe_gateway;
mod stripe_webhooks;
mod two_servers;
mod waiting_room;

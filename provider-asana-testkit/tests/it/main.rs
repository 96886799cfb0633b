//! MockAsana's own tests, driven with plain reqwest, in one binary: its OAuth endpoints and its
//! REST API.

mod api;
mod oauth;

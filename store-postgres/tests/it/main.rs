//! store-postgres's integration tests, in one binary, each on a database of its own (see
//! `store_postgres::testing`): the conformance suite with and without encryption, several
//! processes sharing one record, instances refreshing one token once, many
//! refreshers on three instances never deadlocking, the database clock for
//! leases, waking waiters with LISTEN/NOTIFY, and losing the database.

mod clock;
mod notify;
mod outage;
mod processes;
mod refresh;
mod refreshers;
mod store;
mod support;

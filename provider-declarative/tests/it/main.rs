//! provider-declarative's integration tests, in one binary: definitions from users' files and
//! their errors, each built-in provider's whole life against a fake reproducing its quirks, and
//! rotating refresh tokens spent once.

mod builtins;
mod definitions;
mod fakes;
mod rotation;

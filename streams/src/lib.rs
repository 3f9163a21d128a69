//! The read side of Eddy's changelog: shards and their lineage, iterators, bounded reads,
//! retention trimming, consumer checkpoints and live fan-out.
//!
//! This crate is a placeholder until change streams land: the changelog itself is written by
//! `eddy-core` in the same transaction as the data it describes. The change-record [`filter`]
//! engine is already here, shared by subscriptions, triggers and sinks.

pub mod api;
pub mod error;
pub mod filter;
pub mod iterator;
pub mod limits;
pub mod record;
pub mod shard;
pub mod source;
pub mod stream;

pub use api::StreamsApi;
pub use error::StreamsError;
pub use limits::Limits;
pub use source::StreamSource;

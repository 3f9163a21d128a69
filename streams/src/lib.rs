//! The read side of Eddy's changelog: shards and their lineage, iterators, bounded reads,
//! retention trimming, consumer checkpoints and live fan-out.
//!
//! The changelog itself is written by `eddy-core` in the same transaction as the data it
//! describes; this crate reads it only through `ChangeFeed` (via [`StreamSource`]). The
//! DynamoDB Streams API view is [`StreamsApi`] ([`shard`], [`iterator`], [`record`]); the
//! change-record [`filter`] engine is shared by subscriptions, triggers and sinks.

pub mod api;
pub mod error;
pub mod filter;
pub mod iterator;
pub mod json;
pub mod limits;
pub mod record;
pub mod shard;
pub mod source;
pub mod stream;

pub use api::StreamsApi;
pub use error::StreamsError;
pub use limits::Limits;
pub use source::StreamSource;
pub mod subscription;

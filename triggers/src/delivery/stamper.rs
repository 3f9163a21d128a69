//! The task that stamps each move of a trigger's source table's high watermark, for the
//! commit -> invocation delay (`crate::delay`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_core::changelog::ChangeFeed;

use super::Shared;
use crate::delay::CommitStamps;

/// Aborts a task when dropped.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How often the stamping task looks whether the trigger moved to another table or stops.
const STAMPER_RECHECK: Duration = Duration::from_secs(1);

/// Stamps each move of the source table's high watermark as it happens, on a task of its own
/// so that a busy delivery task does not delay the stamps.
pub(super) async fn stamp_commits(shared: Arc<Shared>) {
    while !shared.stopping() {
        let table = shared.active().config.table_name.clone();
        let Ok(mut rx) = shared.store.watch(&table) else {
            tokio::time::sleep(STAMPER_RECHECK).await;
            continue;
        };
        *shared.stamps() = CommitStamps::starting_at(*rx.borrow_and_update());
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let high_watermark = *rx.borrow_and_update();
                    shared.stamps().stamp(high_watermark, Instant::now());
                }
                () = tokio::time::sleep(STAMPER_RECHECK) => {
                    if shared.stopping() || shared.active().config.table_name != table {
                        break;
                    }
                }
            }
        }
    }
}

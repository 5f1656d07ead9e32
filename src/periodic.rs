//! Background work that repeats for the life of the server (key refresh, housekeeping).

use std::future::Future;
use std::time::Duration;

/// Run `task` every `interval`, the first time one `interval` after start; a slow run delays the next
/// instead of piling runs up.
pub fn spawn_every<F, Fut>(interval: Duration, task: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            task().await;
        }
    })
}

//! The argon2 pool: password hashing and verification off the async runtime, on a fixed set of threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Argon2id verifications run on a fixed pool of one thread per CPU, never on the async runtime.
/// A fixed pool also bounds memory: each verification takes 19 MiB, and the allocator keeps freed
/// memory per thread, so a growing thread pool would keep growing the process. When the queue in
/// front of the pool is full, new sign-ins get 503 + `Retry-After` instead of piling up.
#[derive(Debug)]
pub struct PasswordSlots {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Jobs queued and not yet picked up by a worker.
    waiting: Arc<AtomicUsize>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Every password slot is taken and the queue is full.
#[derive(Debug)]
pub struct Busy;

impl PasswordSlots {
    /// `cpus` worker threads, and up to `cpus * 16` verifications waiting.
    pub fn new(cpus: usize) -> Self {
        let cpus = cpus.max(1);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(cpus * 16);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cpus {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, not while running it.
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return, // the application was dropped
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-hashing thread");
            }
        }
        Self {
            jobs,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Verifications waiting for a worker now (the metrics' argon2 queue depth).
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Run CPU-heavy `work` on the pool; `Busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let waiting = Arc::clone(&self.waiting);
        waiting.fetch_add(1, Ordering::Relaxed);
        let picked_up = Arc::clone(&waiting);
        let sent = self.jobs.try_send(Box::new(move || {
            picked_up.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(work());
        }));
        if sent.is_err() {
            waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(Busy);
        }
        answer.await.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_password_queue_answers_busy_instead_of_piling_up() {
        let slots = std::sync::Arc::new(PasswordSlots::new(1));
        // Hold the only worker until released, so every further job waits in the queue.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Arc::new(Mutex::new(held));
        let first = {
            let (slots, held) = (std::sync::Arc::clone(&slots), std::sync::Arc::clone(&held));
            tokio::spawn(async move {
                slots
                    .run(move || {
                        let _ = held.lock().map(|rx| rx.recv());
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let mut queued = Vec::new();
        let mut busy = 0;
        for _ in 0..40 {
            let slots = std::sync::Arc::clone(&slots);
            let job = tokio::spawn(async move { slots.run(|| 1).await });
            queued.push(job);
        }
        // On this single-threaded test runtime, yielding once runs every spawned submission up to its
        // `try_send` while the worker is still held: 16 fit in the queue, the rest are refused.
        tokio::task::yield_now().await;
        drop(release);
        let _ = first.await;
        for job in queued {
            if job.await.unwrap().is_err() {
                busy += 1;
            }
        }
        // One running, up to 16 waiting: at least 40 - 17 submissions were refused at once.
        assert!(busy >= 23, "{busy} refused");
        assert!(
            matches!(slots.run(|| 2).await, Ok(2)),
            "the pool works again afterwards"
        );
    }
}

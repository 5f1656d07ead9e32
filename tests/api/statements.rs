//! The SQL a real server runs, captured as it runs: sqlx logs every statement as a `sqlx::query`
//! tracing event, and a test that drives a server through [`on_own_thread`] can collect the
//! statements of a piece of its work with [`capture`].
//!
//! The capture is per test: the work runs on a thread of its own (a current-thread runtime, so the
//! server's tasks run there too), and a statement counts when it is logged on that thread or
//! inside a span opened there (SQLite runs statements on a worker thread, which enters the
//! caller's span). Tests running meanwhile are not captured.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Once};

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Run the future `work` makes (which starts its own server) on a thread and runtime of its own, with the capture
/// installed, so that [`capture`] inside it sees only its statements.
pub async fn on_own_thread<Work: Future<Output = ()>>(
    work: impl FnOnce() -> Work + Send + 'static,
) {
    install_capture();
    let handle = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    });
    let joined = tokio::task::spawn_blocking(move || handle.join())
        .await
        .unwrap();
    if let Err(panic) = joined {
        std::panic::resume_unwind(panic);
    }
}

/// The distinct statements `work` makes the server run (see the module documentation).
pub async fn capture(work: impl Future<Output = ()>) -> BTreeSet<String> {
    let sink: Sink = Arc::default();
    SINK.with(|current| *current.borrow_mut() = Some(sink.clone()));
    work.await;
    SINK.with(|current| *current.borrow_mut() = None);
    sink.lock().unwrap().clone()
}

/// Where captured statements go.
type Sink = Arc<Mutex<BTreeSet<String>>>;

thread_local! {
    /// The sink of the capture running on this thread, if any.
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Marks a span opened during a capture: statements logged inside it (on any thread) are captured.
struct Captured(Sink);

/// The tracing layer that captures `sqlx::query` events of the running captures.
struct Capture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(
        &self,
        _attributes: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let sink = SINK.with(|current| current.borrow().clone()).or_else(|| {
            span.parent()
                .and_then(|parent| parent.extensions().get::<Captured>().map(|c| c.0.clone()))
        });
        if let Some(sink) = sink {
            span.extensions_mut().insert(Captured(sink));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let sink = SINK.with(|current| current.borrow().clone()).or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<Captured>().map(|c| c.0.clone()))
        });
        let Some(sink) = sink else { return };
        let mut statement = Statement::default();
        event.record(&mut statement);
        // sqlx logs a short statement whole as `summary`, a long one in `db.statement`.
        let sql = if statement.full.trim().is_empty() {
            statement.summary
        } else {
            statement.full
        };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        if !sql.is_empty() {
            sink.lock().unwrap().insert(sql);
        }
    }
}

/// The statement fields of a `sqlx::query` event.
#[derive(Default)]
struct Statement {
    summary: String,
    full: String,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.full = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// Install the capturing layer as this process's tracing subscriber (once). It sees only latchkey's
/// spans and sqlx's statement events, so other tests pay next to nothing for it; with
/// `LATCHKEY_TEST_LOG` set, the servers' logs are printed through it as `TestApp` would.
fn install_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        use tracing_subscriber::filter::filter_fn;
        let capture = Capture.with_filter(filter_fn(|meta| {
            if meta.is_span() {
                meta.target().starts_with("latchkey")
            } else {
                meta.target() == "sqlx::query"
            }
        }));
        let log = std::env::var("LATCHKEY_TEST_LOG").ok().map(|filter| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::new(filter))
        });
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(capture).with(log),
        )
        .expect("the query plan test needs the process's tracing subscriber");
    });
}

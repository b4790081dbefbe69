//! PostgreSQL: the tenants' context generations (see [`super::contexts`]),
//! read for many calls in one query.
//!
//! Every call reads its tenant's generation, so under load most of what the
//! database does for invocations is this one primary-key read. One task owns
//! a connection (outside the pool, so no pool health pings around each read)
//! and answers the calls in batches: it takes every request queued so far,
//! reads their tenants' generations in one query and answers them all; the
//! requests that arrive meanwhile wait for the next query. So every read
//! still *starts* after its call asked for it, and a change committed before
//! a call began is seen by that call, as with one query per call.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::dialect::{Backend, placeholders};
use super::{StoreError, StoreResult};

/// At most this many calls are answered by one query.
const MAX_BATCH: usize = 1024;
/// A read that takes longer is given up (the connection is dropped): a
/// connection that hangs must not hold up every call behind it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

type Reply = oneshot::Sender<Result<u64, String>>;

/// Handle to the reader task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct GenerationReader {
    requests: mpsc::UnboundedSender<(String, Reply)>,
}

impl GenerationReader {
    /// Starts the reader task; it connects with `options` on first use, and
    /// again (reading once more) when a read fails.
    pub(super) fn start(options: AnyConnectOptions) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(serve(options, queue));
        Self { requests }
    }

    /// The generation of `tenant`, read after this call.
    pub(super) async fn read(&self, tenant: &str) -> StoreResult<u64> {
        let (reply, answer) = oneshot::channel();
        let stopped =
            || StoreError::Database(sqlx::Error::Io(std::io::Error::other("the generation reader has stopped")));
        self.requests.send((tenant.to_owned(), reply)).map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|message| StoreError::Database(sqlx::Error::Io(std::io::Error::other(message))))
    }
}

async fn serve(options: AnyConnectOptions, mut queue: mpsc::UnboundedReceiver<(String, Reply)>) {
    let mut connection: Option<AnyConnection> = None;
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("workbench_generation_batch_calls").record(batch.len() as f64);
        let mut tenants: Vec<&str> = batch.iter().map(|(tenant, _)| tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let first = match connection.as_mut() {
            Some(conn) => read(conn, &tenants)
                .await
                .inspect_err(|error| tracing::info!(%error, "reading tenant generations failed; connecting again"))
                .ok(),
            None => None,
        };
        let result = match first {
            Some(generations) => Ok(generations),
            // Not connected yet, or the connection broke (the server
            // restarted, a proxy closed it): the read changes nothing, so it
            // is made once more on a new connection.
            None => match tokio::time::timeout(READ_TIMEOUT, options.connect()).await {
                Ok(Ok(conn)) => read(connection.insert(conn), &tenants).await,
                Ok(Err(error)) => Err(error),
                Err(_) => Err(timed_out("connecting to read tenant generations")),
            },
        };
        match result {
            Ok(generations) => {
                for (tenant, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(generations.get(&tenant).copied().unwrap_or(0)));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "reading tenant generations failed");
                connection = None;
                let message = error.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
    if let Some(conn) = connection {
        let _ = conn.close().await;
    }
}

async fn read(conn: &mut AnyConnection, tenants: &[&str]) -> Result<HashMap<String, u64>, sqlx::Error> {
    tokio::time::timeout(READ_TIMEOUT, read_now(conn, tenants))
        .await
        .unwrap_or_else(|_| Err(timed_out("reading tenant generations")))
}

fn timed_out(what: &str) -> sqlx::Error {
    let message = format!("{what} took over {} s", READ_TIMEOUT.as_secs());
    sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message))
}

async fn read_now(conn: &mut AnyConnection, tenants: &[&str]) -> Result<HashMap<String, u64>, sqlx::Error> {
    let sql = format!(
        "SELECT tenant, generation FROM tenant_generations WHERE tenant IN ({})",
        placeholders(Backend::Postgres, 1, tenants.len())
    );
    let mut query = sqlx::query(&sql);
    for tenant in tenants {
        query = query.bind(*tenant);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows.iter().map(|row| (row.get::<String, _>(0), row.get::<i64, _>(1).cast_unsigned())).collect())
}

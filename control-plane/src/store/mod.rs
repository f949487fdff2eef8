//! The control plane's store: Postgres, spoken in domain terms.
//!
//! Every method on tenant data takes the `TenantId` first and every such query is scoped with
//! `WHERE tenant_id = $1`. Handlers never see `sqlx::Error`.

pub mod access_keys;
pub mod audit;
pub mod buckets;
pub mod catalog;
pub mod delivery_metrics;
pub mod delivery_streams;
pub mod idempotency;
pub mod invitations;
pub mod key_usage;
pub mod members;
pub mod metrics;
mod postgres;
pub mod quotas;
pub mod resealing;
pub mod sessions;
pub mod streams;
pub mod tenants;
pub mod users;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// Store failures callers match on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("violates a constraint")]
    Invalid,
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("in use: {0}")]
    InUse(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant's id. Typed so that it cannot be confused with a stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub Uuid);

/// The Postgres-backed store.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// The notification channel the reconciler listens on.
pub const RECONCILE_CHANNEL: &str = "fjord_reconcile";

impl Store {
    /// Connects and applies the migrations in `migrations/`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .context("cannot connect to Postgres")?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        sqlx::migrate!("../migrations")
            .run(&self.pool)
            .await
            .context("cannot apply database migrations")?;
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `work` in one transaction: commit on `Ok`, roll back (and log) on `Err`.
    pub(crate) async fn transaction<T, F>(&self, work: F) -> StoreResult<T>
    where
        F: for<'c> FnOnce(
            &'c mut sqlx::PgConnection,
        ) -> futures::future::BoxFuture<'c, StoreResult<T>>,
    {
        let mut transaction = self.pool.begin().await?;
        match work(&mut transaction).await {
            Ok(value) => {
                transaction.commit().await?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback_error) = transaction.rollback().await {
                    tracing::warn!(%rollback_error, "failed to roll back transaction");
                }
                if let StoreError::Database(database_error) = &error {
                    tracing::error!(%database_error, "transaction failed");
                }
                Err(error)
            }
        }
    }
}

/// Nudges the reconciler from inside a transaction; delivered on commit.
pub(crate) async fn notify_reconciler(connection: &mut sqlx::PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(RECONCILE_CHANNEL)
        .execute(connection)
        .await?;
    Ok(())
}

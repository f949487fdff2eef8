//! A tenant's catalog tables: the schemas format conversion writes Parquet with (ADR 017).
//! A delivery stream copies a table's columns when its destination is created or updated, so
//! changing or dropping a table never changes what a running delivery stream writes.

use chrono::{DateTime, Utc};
use fjord_common::firehose::Column;
use uuid::Uuid;

use super::{Store, StoreError, StoreResult, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogTableRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub database_name: String,
    pub table_name: String,
    /// `[Column]` as JSON text.
    pub columns: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CatalogTableRow {
    /// The columns, in order; `None` only if the row was written by something else.
    pub fn columns(&self) -> Option<Vec<Column>> {
        serde_json::from_str(&self.columns).ok()
    }
}

const COLUMNS: &str = "id, tenant_id, database_name, table_name, columns::text AS columns, \
                       created_at, updated_at";

impl Store {
    /// Creates the table `database`.`table`; [`StoreError::AlreadyExists`] if the tenant has
    /// one of that name.
    pub async fn create_catalog_table(
        &self,
        tenant_id: TenantId,
        database: &str,
        table: &str,
        columns: &[Column],
    ) -> StoreResult<CatalogTableRow> {
        let columns = serde_json::to_string(columns).map_err(|_| StoreError::Invalid)?;
        let row = sqlx::query_as::<_, CatalogTableRow>(&format!(
            "INSERT INTO catalog_tables (id, tenant_id, database_name, table_name, columns)
             VALUES ($1, $2, $3, $4, $5::jsonb)
             ON CONFLICT (tenant_id, database_name, table_name) DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(tenant_id.0)
        .bind(database)
        .bind(table)
        .bind(&columns)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::AlreadyExists)
    }

    /// Replaces the columns of the table `database`.`table`; [`StoreError::NotFound`] if the
    /// tenant has none of that name.
    pub async fn replace_catalog_table(
        &self,
        tenant_id: TenantId,
        database: &str,
        table: &str,
        columns: &[Column],
    ) -> StoreResult<CatalogTableRow> {
        let columns = serde_json::to_string(columns).map_err(|_| StoreError::Invalid)?;
        let row = sqlx::query_as::<_, CatalogTableRow>(&format!(
            "UPDATE catalog_tables SET columns = $4::jsonb, updated_at = now()
             WHERE tenant_id = $1 AND database_name = $2 AND table_name = $3
             RETURNING {COLUMNS}"
        ))
        .bind(tenant_id.0)
        .bind(database)
        .bind(table)
        .bind(&columns)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound)
    }

    /// The table `database`.`table` of the tenant.
    pub async fn catalog_table(
        &self,
        tenant_id: TenantId,
        database: &str,
        table: &str,
    ) -> StoreResult<Option<CatalogTableRow>> {
        Ok(sqlx::query_as::<_, CatalogTableRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_tables
             WHERE tenant_id = $1 AND database_name = $2 AND table_name = $3"
        ))
        .bind(tenant_id.0)
        .bind(database)
        .bind(table)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The tenant's tables by database and name.
    pub async fn list_catalog_tables(
        &self,
        tenant_id: TenantId,
    ) -> StoreResult<Vec<CatalogTableRow>> {
        Ok(sqlx::query_as::<_, CatalogTableRow>(&format!(
            "SELECT {COLUMNS} FROM catalog_tables WHERE tenant_id = $1
             ORDER BY database_name, table_name"
        ))
        .bind(tenant_id.0)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Drops the table; [`StoreError::NotFound`] if the tenant has none of that name.
    pub async fn delete_catalog_table(
        &self,
        tenant_id: TenantId,
        database: &str,
        table: &str,
    ) -> StoreResult<()> {
        let deleted = sqlx::query(
            "DELETE FROM catalog_tables
             WHERE tenant_id = $1 AND database_name = $2 AND table_name = $3",
        )
        .bind(tenant_id.0)
        .bind(database)
        .bind(table)
        .execute(&self.pool)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

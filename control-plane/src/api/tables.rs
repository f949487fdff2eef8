//! The tenant's catalog under `/api/v1/tables`: the tables (database, name, columns) that
//! format conversion writes Parquet with. A delivery stream's
//! `DataFormatConversionConfiguration.SchemaConfiguration` names one by `DatabaseName` and
//! `TableName`, as it would name a Glue table (ADR 017, `docs/firehose-compatibility.md`).
//!
//! Listing and reading need `ReadStreams` (viewers and up); creating, replacing and dropping
//! need
//! `ManageStreams` (developers and up). A delivery stream copies the columns when its
//! destination is created or updated, so changing or dropping a table never changes what a
//! running delivery stream writes. Every change is audited (`tables:<Action>`). A table of
//! another tenant is a 404 like one that does not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use fjord_common::firehose::{Column, ColumnType, is_valid_catalog_name};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::ApiState;
use crate::api::audit::{RequestOrigin, record_change};
use crate::api::extract::ApiJson;
use crate::api::problem::Problem;
use crate::auth::context::AuthContext;
use crate::auth::permissions::Action;
use crate::store::StoreError;
use crate::store::catalog::CatalogTableRow;

/// Most columns in a table.
pub const MAX_COLUMNS: usize = 1000;

/// One column as given: a name and a Hive type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnRequest {
    /// 1-255 of `[a-z0-9_]`, unique in the table.
    #[schema(example = "customer_id")]
    pub name: String,
    /// `string` (or `varchar(n)`, `char(n)`), `boolean`, `tinyint`, `smallint`, `int`,
    /// `bigint`, `float`, `double`, `date` or `timestamp`.
    #[schema(example = "bigint")]
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTableRequest {
    /// 1-255 of `[a-z0-9_]` (`SchemaConfiguration.DatabaseName`).
    #[schema(example = "analytics")]
    pub database: String,
    /// 1-255 of `[a-z0-9_]`, unique in the database (`SchemaConfiguration.TableName`).
    #[schema(example = "events")]
    pub name: String,
    /// 1 to 1000 columns, in order.
    pub columns: Vec<ColumnRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTableRequest {
    /// 1 to 1000 columns, in order.
    pub columns: Vec<ColumnRequest>,
}

/// One column as stored (the type normalised: `varchar(n)` is `string`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableView {
    pub database: String,
    pub name: String,
    pub columns: Vec<ColumnView>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableList {
    pub items: Vec<TableView>,
}

fn view(row: &CatalogTableRow) -> Result<TableView, Problem> {
    let columns = row
        .columns()
        .ok_or_else(|| Problem::internal(&"a catalog table holds unreadable columns"))?;
    Ok(TableView {
        database: row.database_name.clone(),
        name: row.table_name.clone(),
        columns: columns
            .into_iter()
            .map(|column| ColumnView {
                name: column.name,
                kind: column.kind.as_str().to_owned(),
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The columns of a request, checked; one sentence naming every problem otherwise.
fn columns(given: &[ColumnRequest]) -> Result<Vec<Column>, Problem> {
    let mut problems = Vec::new();
    if given.is_empty() || given.len() > MAX_COLUMNS {
        problems.push(format!(
            "a table has 1 to {MAX_COLUMNS} columns, not {}",
            given.len()
        ));
    }
    let mut columns = Vec::with_capacity(given.len());
    for column in given {
        if !is_valid_catalog_name(&column.name) {
            problems.push(format!(
                "column name {:?} is not 1-255 of a-z, 0-9 and _",
                column.name
            ));
        } else if columns
            .iter()
            .any(|known: &Column| known.name == column.name)
        {
            problems.push(format!("column {} is named twice", column.name));
        }
        match ColumnType::parse(&column.kind) {
            Some(kind) => columns.push(Column {
                name: column.name.clone(),
                kind,
            }),
            None => problems.push(format!(
                "column {} has type {:?}; use one of string, varchar(n), char(n), {}",
                column.name,
                column.kind,
                ColumnType::ALL[1..]
                    .iter()
                    .map(|kind| kind.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(Problem::bad_request(problems.join("; ")))
    }
}

/// A table's database and name from the path; a malformed one names none.
fn names(database: &str, table: &str) -> Result<(), Problem> {
    if is_valid_catalog_name(database) && is_valid_catalog_name(table) {
        Ok(())
    } else {
        Err(Problem::not_found())
    }
}

/// The catalog's tables.
#[utoipa::path(
    get,
    path = "/api/v1/tables",
    tag = "tables",
    security(("bearer" = []), ("sigv4" = [])),
    responses(
        (status = 200, description = "The tables, by database and name", body = TableList),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tables(
    State(state): State<ApiState>,
    context: AuthContext,
) -> Result<Json<TableList>, Problem> {
    context.require(Action::ReadStreams)?;
    let rows = state.store.list_catalog_tables(context.tenant_id).await?;
    Ok(Json(TableList {
        items: rows.iter().map(view).collect::<Result<_, _>>()?,
    }))
}

/// One table.
#[utoipa::path(
    get,
    path = "/api/v1/tables/{database}/{name}",
    tag = "tables",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("database" = String, Path, description = "The database"),
        ("name" = String, Path, description = "The table"),
    ),
    responses(
        (status = 200, description = "The table", body = TableView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such table", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn describe_table(
    State(state): State<ApiState>,
    context: AuthContext,
    Path((database, table)): Path<(String, String)>,
) -> Result<Json<TableView>, Problem> {
    context.require(Action::ReadStreams)?;
    names(&database, &table)?;
    let row = state
        .store
        .catalog_table(context.tenant_id, &database, &table)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(Json(view(&row)?))
}

/// Create a table.
#[utoipa::path(
    post,
    path = "/api/v1/tables",
    tag = "tables",
    security(("bearer" = []), ("sigv4" = [])),
    request_body = CreateTableRequest,
    responses(
        (status = 201, description = "Created", body = TableView),
        (status = 400, description = "Bad columns or names", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The database has a table of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn create_table(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    ApiJson(request): ApiJson<CreateTableRequest>,
) -> Result<Response, Problem> {
    let result = async {
        context.require(Action::ManageStreams)?;
        if !is_valid_catalog_name(&request.database) || !is_valid_catalog_name(&request.name) {
            return Err(Problem::bad_request(
                "database and table names are 1-255 of a-z, 0-9 and _",
            ));
        }
        let columns = columns(&request.columns)?;
        let row = state
            .store
            .create_catalog_table(
                context.tenant_id,
                &request.database,
                &request.name,
                &columns,
            )
            .await
            .map_err(|error| match error {
                StoreError::AlreadyExists => {
                    Problem::conflict("the database has a table of that name")
                }
                other => other.into(),
            })?;
        Ok((StatusCode::CREATED, Json(view(&row)?)).into_response())
    }
    .await;
    record_change(
        &state,
        &context,
        &origin,
        "tables:Create".to_owned(),
        &format!("{}.{}", request.database, request.name),
        result.as_ref().err(),
        json!({"columns": request.columns.len()}),
    )
    .await;
    result
}

/// Replace a table's columns. Delivery streams that convert with it read the new columns
/// when their destination is next created or updated.
#[utoipa::path(
    put,
    path = "/api/v1/tables/{database}/{name}",
    tag = "tables",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("database" = String, Path, description = "The database"),
        ("name" = String, Path, description = "The table"),
    ),
    request_body = ReplaceTableRequest,
    responses(
        (status = 200, description = "Replaced", body = TableView),
        (status = 400, description = "Bad columns", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such table", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn replace_table(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path((database, table)): Path<(String, String)>,
    ApiJson(request): ApiJson<ReplaceTableRequest>,
) -> Result<Json<TableView>, Problem> {
    let result = async {
        context.require(Action::ManageStreams)?;
        names(&database, &table)?;
        let columns = columns(&request.columns)?;
        let row = state
            .store
            .replace_catalog_table(context.tenant_id, &database, &table, &columns)
            .await
            .map_err(|error| match error {
                StoreError::NotFound => Problem::not_found(),
                other => other.into(),
            })?;
        Ok(Json(view(&row)?))
    }
    .await;
    record_change(
        &state,
        &context,
        &origin,
        "tables:Replace".to_owned(),
        &format!("{database}.{table}"),
        result.as_ref().err(),
        json!({"columns": request.columns.len()}),
    )
    .await;
    result
}

/// Drop a table. Delivery streams already converting with it keep their copy of its columns.
#[utoipa::path(
    delete,
    path = "/api/v1/tables/{database}/{name}",
    tag = "tables",
    security(("bearer" = []), ("sigv4" = [])),
    params(
        ("database" = String, Path, description = "The database"),
        ("name" = String, Path, description = "The table"),
    ),
    responses(
        (status = 204, description = "Dropped"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs developer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such table", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %context.tenant_id.0))]
pub async fn delete_table(
    State(state): State<ApiState>,
    context: AuthContext,
    origin: RequestOrigin,
    Path((database, table)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let result = async {
        context.require(Action::ManageStreams)?;
        names(&database, &table)?;
        match state
            .store
            .delete_catalog_table(context.tenant_id, &database, &table)
            .await
        {
            Ok(()) => Ok(StatusCode::NO_CONTENT),
            Err(StoreError::NotFound) => Err(Problem::not_found()),
            Err(other) => Err(other.into()),
        }
    }
    .await;
    record_change(
        &state,
        &context,
        &origin,
        "tables:Delete".to_owned(),
        &format!("{database}.{table}"),
        result.as_ref().err(),
        json!({}),
    )
    .await;
    result
}

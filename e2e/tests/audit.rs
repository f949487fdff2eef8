//! The audit log seen from outside: stream administration through the official SDK and an
//! operator action leave rows naming the access key, the caller's address and the outcome.

use fjord_e2e::{Fjord, stream_name};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    actor_type: String,
    actor_id: String,
    action: String,
    resource: String,
    outcome: String,
    source_ip: Option<String>,
    request_id: Option<String>,
}

#[tokio::test]
async fn stream_administration_is_audited_with_the_access_key_and_source_ip() {
    let fjord = Fjord::start().await.unwrap();
    let tenant = fjord.create_tenant("acme").await.unwrap();
    let client = fjord.client(&tenant);
    let name = stream_name("audited");

    fjord.create_active_stream(&client, &name, 1).await.unwrap();
    client.list_streams().send().await.unwrap();
    client
        .delete_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();

    let pool = sqlx::PgPool::connect(&fjord.database_url()).await.unwrap();
    let rows = sqlx::query_as::<_, Row>(
        "SELECT actor_type, actor_id, action, resource, outcome, source_ip, request_id
         FROM audit_log WHERE tenant_id = $1::uuid ORDER BY occurred_at, id",
    )
    .bind(&tenant.tenant_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;

    // The operator's create-tenant, then the two mutating calls; the reads left nothing.
    let actions: Vec<&str> = rows.iter().map(|row| row.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tenants:Create",
            "kinesis:CreateStream",
            "kinesis:DeleteStream"
        ],
        "{rows:?}"
    );
    assert_eq!(rows[0].actor_type, "operator");
    let arn = format!(
        "arn:aws:kinesis:us-east-1:{}:stream/{name}",
        tenant.account_id
    );
    for row in &rows[1..] {
        assert_eq!(row.actor_type, "access_key");
        assert_eq!(row.actor_id, tenant.access_key_id);
        assert_eq!(row.resource, arn);
        assert_eq!(row.outcome, "success");
        assert_eq!(row.source_ip.as_deref(), Some("127.0.0.1"), "{row:?}");
        assert!(row.request_id.is_some());
    }
}

//! The console reads the REST API through the types in `fjord_web_ui::api`. Every field those
//! types read must exist in the schema `docs/openapi.json` gives for that answer, so a renamed
//! or removed API field fails here instead of blanking a page.

use std::collections::BTreeSet;

use fjord_web_ui::api;
use serde::Serialize;
use serde_json::Value;

fn document() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .expect("docs/openapi.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The property names of schema `name`, following `allOf` and `$ref`s.
fn properties(document: &Value, name: &str) -> BTreeSet<String> {
    let schema = &document["components"]["schemas"][name];
    assert!(!schema.is_null(), "docs/openapi.json has no schema {name}");
    let mut names = BTreeSet::new();
    collect(document, schema, &mut names);
    names
}

fn collect(document: &Value, schema: &Value, names: &mut BTreeSet<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = reference.rsplit('/').next().unwrap_or_default();
        collect(document, &document["components"]["schemas"][target], names);
    }
    if let Some(properties) = schema["properties"].as_object() {
        names.extend(properties.keys().cloned());
    }
    // `allOf` parts all apply; an enum's `oneOf` variants each may (a tagged enum's fields
    // are the union of its variants').
    for part in ["allOf", "oneOf"]
        .iter()
        .flat_map(|key| schema[*key].as_array().into_iter().flatten())
    {
        collect(document, part, names);
    }
}

/// The JSON field names a console type reads (and, for a default value, writes).
fn fields<T: Serialize + Default>() -> BTreeSet<String> {
    match serde_json::to_value(T::default()).expect("serializes") {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

fn check<T: Serialize + Default>(schema: &str) {
    let document = document();
    let known = properties(&document, schema);
    let read = fields::<T>();
    let missing: Vec<_> = read.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "{} reads {missing:?}, which schema {schema} does not have ({known:?})",
        std::any::type_name::<T>()
    );
}

#[test]
fn every_field_the_console_reads_is_in_the_api_contract() {
    check::<api::Tenant>("TenantView");
    check::<api::Membership>("MembershipView");
    check::<api::User>("UserView");
    check::<api::Me>("MeResponse");
    check::<api::Session>("SessionResponse");
    check::<api::StreamSummary>("StreamSummary");
    check::<api::Page<api::StreamSummary>>("StreamPage");
    check::<api::Shard>("ShardView");
    check::<api::Stream>("StreamView");
    check::<api::Record>("RecordView");
    check::<api::RecordPage>("RecordPage");
    check::<api::PutRecordResult>("PutRecordResult");
    check::<api::PutRecordsResponse>("PutRecordsResponse");
    check::<api::Key>("KeyView");
    check::<api::CreatedKey>("CreatedKey");
    check::<api::Member>("MemberView");
    check::<api::Invitation>("InvitationView");
    check::<api::CreatedInvitation>("CreatedInvitation");
    check::<api::AuditEntry>("AuditEntryView");
    check::<api::Problem>("Problem");
    check::<api::MetricsPoint>("MetricsPoint");
    check::<api::StreamMetrics>("StreamMetricsView");
    check::<api::StreamSparkline>("StreamSparkline");
    check::<api::StreamsMetrics>("StreamsMetricsView");
    check::<api::DeliveryDestination>("DestinationView");
    check::<api::DeliveryHttpEndpoint>("HttpEndpointView");
    check::<api::DeliveryConversion>("ConversionView");
    check::<api::DeliveryStream>("DeliveryStreamView");
    check::<api::Page<api::DeliveryStream>>("DeliveryStreamPage");
    check::<api::PutDeliveryRecordsResponse>("PutDeliveryRecordsResponse");
    check::<api::DeliveryCounts>("DeliveryCounts");
    check::<api::DeliveryMinute>("DeliveryMinuteView");
    check::<api::DeliveryMetrics>("DeliveryMetricsView");
    check::<api::DeliveryFailure>("DeliveryFailureView");
    check::<api::DeliveryFailures>("DeliveryFailurePage");
    check::<api::BucketStore>("StoreView");
    check::<api::DeliveryProcessor>("ProcessorView");
    check::<api::DeliveryPartitionKey>("PartitionKeyView");
    check::<api::Bucket>("BucketView");
    check::<api::BucketList>("BucketList");
}

#[test]
fn enums_the_console_reads_match_the_contract() {
    let document = document();
    let values = |name: &str| -> Vec<String> {
        document["components"]["schemas"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not an enum"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let roles: Vec<String> = api::Role::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(values("Role"), roles);
    for source in ["direct_put", "kinesis_stream"] {
        assert!(values("DeliverySourceKind").contains(&source.to_owned()));
    }
    for mode in [api::StreamMode::Provisioned, api::StreamMode::OnDemand] {
        let json = serde_json::to_value(mode).unwrap();
        assert!(
            values("StreamMode").contains(&json.as_str().unwrap().to_owned()),
            "{json}"
        );
    }
}

//! The console's accessibility, measured: a person signs in and creates a stream with the
//! keyboard alone (every stop showing a focus ring), and axe-core checks every page against
//! WCAG 2.2 A and AA (labels, contrast, landmarks, names, ARIA) with real data on it.

use aws_sdk_kinesis::primitives::Blob;
use fjord_e2e::browser::{self, Browser, ENTER, TAB};
use fjord_e2e::delivery::TestS3;
use fjord_e2e::{Fjord, Options, stream_name};

/// Presses Tab until the focused element's description contains `want` (at most `limit`
/// times), failing if any stop on the way has no visible focus indicator. Returns the stops.
async fn tab_to(browser: &Browser, want: &str, limit: usize) -> anyhow::Result<Vec<String>> {
    let mut stops = Vec::new();
    for _ in 0..limit {
        browser.press(TAB).await?;
        let (focused, ring) = browser.focused().await?;
        anyhow::ensure!(
            ring || focused == "body",
            "{focused} has the focus but shows no focus indicator (after {stops:?})"
        );
        stops.push(focused.clone());
        if focused.contains(want) {
            return Ok(stops);
        }
    }
    anyhow::bail!("{want} is not reachable with Tab; the stops were {stops:?}")
}

#[tokio::test]
async fn signing_in_and_creating_a_stream_needs_only_the_keyboard() -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "admin").await?;
    let browser = Browser::start(true).await?;
    let base = fjord.control_plane_url();

    browser.goto(&format!("{base}/sign-in")).await?;
    browser.wait_hydrated().await?;
    // The email field has the focus on arrival (autofocus); otherwise it is the first stop.
    if !browser.focused().await?.0.contains("[name=email]") {
        tab_to(&browser, "[name=email]", 5).await?;
    }
    browser.type_text(&email).await?;
    let stops = tab_to(&browser, "[name=password]", 1).await?;
    assert_eq!(stops.len(), 1, "the password follows the email");
    browser.type_text(&password).await?;
    browser.press(ENTER).await?;
    browser.wait_for_url("/streams").await?;
    browser.wait_for_text("No data streams yet").await?;
    browser.wait_hydrated().await?;

    // The focus moved to the new page's content: its first control is the first stop.
    let stops = tab_to(&browser, "[href=/streams/new]", 1).await?;
    assert_eq!(stops.len(), 1, "{stops:?}");
    browser.press(ENTER).await?;
    browser.wait_for_url("/streams/new").await?;
    browser.wait_for_text("Data stream configuration").await?;
    browser.wait_hydrated().await?;
    let name = stream_name("keys");
    tab_to(&browser, "[name=name]", 30).await?;
    browser.type_text(&name).await?;
    tab_to(&browser, "Create data stream", 10).await?;
    browser.press(ENTER).await?;
    browser.wait_for_url(&format!("/streams/{name}")).await?;
    browser.wait_for_text(&name).await?;
    browser.assert_no_panic("the keyboard journey").await?;

    // On a page loaded afresh the first stop is the skip link, which lands in the content.
    browser.goto(&format!("{base}/keys")).await?;
    browser.wait_hydrated().await?;
    let stops = tab_to(&browser, "[href=#main]", 1).await?;
    assert!(stops[0].contains("Skip to content"), "{stops:?}");
    browser.press(ENTER).await?;
    let (focused, _) = browser.focused().await?;
    assert!(focused.starts_with("main#main"), "{focused}");
    let stops = tab_to(&browser, "", 1).await?;
    assert!(
        !stops[0].contains("[href=/streams]") && !stops[0].contains("Sign out"),
        "the skip link led back into the header or navigation: {stops:?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_page_passes_axe_wcag_checks() -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let Some(axe) = browser::axe_script() else {
        eprintln!("SKIPPED: axe-core not installed (.ci/run installs it)");
        return Ok(());
    };
    let fjord = Fjord::start_with(Options {
        settings: vec![(
            "FJORD__GATEWAY__METRICS_FLUSH_MS".to_owned(),
            "300".to_owned(),
        )],
        ..Options::default()
    })
    .await?;
    let tenant = fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "admin").await?;
    let base = fjord.control_plane_url();

    // Pages with data on them: a stream with JSON, text and binary records.
    let name = stream_name("a11y");
    let sdk = fjord.client(&tenant);
    fjord.create_active_stream(&sdk, &name, 1).await?;
    for data in [
        br#"{"order":7,"total":42.5}"#.to_vec(),
        b"plain text".to_vec(),
        vec![0, 159, 146, 150, 255],
    ] {
        sdk.put_record()
            .stream_name(&name)
            .partition_key("p")
            .data(Blob::new(data))
            .send()
            .await?;
    }

    let browser = Browser::start(true).await?;
    // The checker can fail: a page with an unlabelled field and an image without a text
    // alternative is caught.
    browser
        .goto("data:text/html,<html lang=en><title>t</title><main><img src=x.png><input></main></html>")
        .await?;
    let broken = browser
        .accessibility_check(&axe)
        .await?
        .violations
        .join("\n");
    assert!(
        broken.contains("image-alt") && broken.contains("label"),
        "axe missed known violations: {broken}"
    );

    let mut report = Vec::new();
    let mut check = async |path: &str, expect: &str| -> anyhow::Result<()> {
        browser.goto(&format!("{base}{path}")).await?;
        browser.wait_for_text(expect).await?;
        browser.wait_hydrated().await?;
        let found = browser.accessibility_check(&axe).await?;
        anyhow::ensure!(
            found.passed_rules >= 10,
            "axe evaluated almost nothing on {path}: {found:?}"
        );
        report.extend(found.violations.iter().map(|v| format!("{path}: {v}")));
        browser.assert_no_panic(path).await
    };
    check("/sign-in", "Sign in").await?;
    check("/accept-invitation", "Join a tenant").await?;

    browser.sign_in(&base, &email, &password).await?;

    check("/streams", &name).await?;
    check("/streams/new", "Data stream configuration").await?;
    check(&format!("/streams/{name}"), "shardId-000000000000").await?;
    // The data viewer with records in each rendering: JSON, text and hex.
    check(
        &format!("/streams/{name}/data?shard=shardId-000000000000&from=trim_horizon"),
        "plain text",
    )
    .await?;
    check(&format!("/streams/{name}/monitoring"), "Incoming records").await?;
    check("/delivery-streams", "No delivery streams yet").await?;
    check("/delivery-streams/new", "Buffering and compression").await?;
    fjord
        .firehose(&tenant)
        .create_delivery_stream()
        .delivery_stream_name("a11y-delivery")
        .extended_s3_destination_configuration(
            aws_sdk_firehose::types::ExtendedS3DestinationConfiguration::builder()
                .role_arn("arn:aws:iam::123456789012:role/firehose")
                .bucket_arn("arn:aws:s3:::lake")
                .build()?,
        )
        .send()
        .await?;
    check("/delivery-streams", "a11y-delivery").await?;
    check("/delivery-streams/a11y-delivery", "Destination id").await?;
    check("/delivery-streams/a11y-delivery", "Delivery, the last hour").await?;
    check("/buckets", "No buckets registered").await?;
    let s3 = TestS3::from_env()?;
    let remote = s3.create_bucket("a11y")?;
    let registered = reqwest::Client::new()
        .post(format!("{base}/api/v1/buckets"))
        .bearer_auth(fjord.session("acme", "owner").await?)
        .json(&serde_json::json!({"name": "a11y-lake", "store": s3.store(&remote)}))
        .send()
        .await?;
    anyhow::ensure!(registered.status() == 201, "{}", registered.text().await?);
    check("/buckets", "a11y-lake").await?;
    check("/keys", "Access keys").await?;
    check("/users", "Users and roles").await?;
    check("/audit", "Audit log").await?;
    check("/getting-started", "Getting started").await?;
    // A phone-sized screen reflows; its layout must pass too.
    browser.set_size(390, 844).await?;
    check("/streams", &name).await?;

    assert!(
        report.is_empty(),
        "axe-core found WCAG 2.2 A/AA violations:\n{}",
        report.join("\n")
    );
    Ok(())
}

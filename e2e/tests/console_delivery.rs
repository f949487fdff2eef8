//! Delivery streams in the console, in a real browser, with and without JavaScript: create one
//! with the form (inline validation first), see it listed and described, put a test record
//! that arrives in the bucket and shows in the page's delivery monitoring, delete it with its
//! name typed; create one delivering to an HTTP endpoint (its access key never shown again) and
//! see a test record reach the endpoint; register a bucket with the form, see it listed without
//! its secret, forget it.

use std::path::Path;
use std::time::{Duration, Instant};

use fjord_e2e::browser::{self, Browser};
use fjord_e2e::http_endpoint::{Behaviour, TestEndpoint};
use fjord_e2e::{Fjord, stream_name};

/// Everything under `dir` as text, concatenated (empty while nothing arrived).
fn contents_under(dir: &Path) -> String {
    let mut text = String::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    text
}

/// Opens a delivery stream's `page` until it shows ACTIVE (up to 20 s).
async fn open_when_active(
    browser: &Browser,
    page: &str,
    javascript: bool,
    name: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(page).await?;
        if javascript {
            browser.wait_hydrated().await?;
        }
        if browser.body_text().await?.contains("ACTIVE") {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The line after the line `label` in a page's text (a fact's value).
fn fact_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    lines.find(|line| *line == label)?;
    lines.next()
}

async fn delivery_journey(javascript: bool) -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let tag = if javascript { "js" } else { "nojs" };
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "developer").await?;
    let browser = Browser::start(javascript).await?;
    let base = fjord.control_plane_url();
    browser.sign_in(&base, &email, &password).await?;

    browser.click_on("a[href='/delivery-streams']").await?;
    browser.wait_for_text("No delivery streams yet").await?;
    browser.click_on("a[href='/delivery-streams/new']").await?;
    browser.wait_for_text("Buffering and compression").await?;
    if javascript {
        browser.wait_hydrated().await?;
        browser.fill_in("input[name=bucket]", "Bad_Bucket").await?;
        browser.wait_for_text("A bucket name: 3 to 63").await?;
    }
    let name = stream_name("console-delivery");
    browser.fill_in("input[name=name]", &name).await?;
    browser.fill_in("input[name=bucket]", "lake").await?;
    browser.fill_in("input[name=prefix]", "console/").await?;
    browser.fill_in("input[name=size_mib]", "1").await?;
    browser.fill_in("input[name=interval_seconds]", "1").await?;
    browser
        .choose("select[name=compression]", "UNCOMPRESSED")
        .await?;
    browser.fill_in("textarea[name=tags]", "team=data").await?;
    browser
        .screenshot_full(&format!("{tag}-19-create-delivery-stream"), 1280)
        .await?;
    browser.click_on("main form button[type=submit]").await?;
    browser
        .wait_for_url(&format!("/delivery-streams/{name}"))
        .await?;
    let page = format!("{base}/delivery-streams/{name}");
    open_when_active(&browser, &page, javascript, &name).await?;
    for fact in ["arn:aws:s3:::lake", "console/", "1 MiB or 1 s", "team=data"] {
        browser.wait_for_text(fact).await?;
    }
    browser.assert_no_panic("delivery stream page").await?;

    // A test record from the console arrives in the bucket.
    browser.click_on("details.card summary").await?;
    let data = format!("{{\"from\":\"console {tag}\"}}");
    browser.fill_in("textarea[name=data]", &data).await?;
    browser
        .click_on("details.card form button[type=submit]")
        .await?;
    browser.wait_for_text("Put as record").await?;
    browser
        .screenshot_full(&format!("{tag}-20-delivery-stream"), 1280)
        .await?;
    let bucket = root.join(&tenant.account_id).join("lake").join("console");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !contents_under(&bucket).contains(&format!("{data}\n")) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the console's record never reached {}",
            bucket.display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The delivery stream's page shows the delivery in its last hour (workers report within a
    // second here).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&page).await?;
        let text = browser.body_text().await?;
        if fact_after(&text, "Records delivered") == Some("1") {
            assert_eq!(fact_after(&text, "Objects written"), Some("1"), "{text}");
            assert_eq!(fact_after(&text, "Duplicates"), Some("0"), "{text}");
            assert!(text.contains("Delivered records"), "a chart: {text}");
            assert!(text.contains("None reported."), "no failures: {text}");
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the delivery never showed: {text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    browser
        .assert_no_panic("delivery stream monitoring")
        .await?;

    browser.goto(&format!("{base}/delivery-streams")).await?;
    browser.wait_for_text(&name).await?;
    browser.wait_for_text("s3://lake/console/").await?;
    browser
        .screenshot(&format!("{tag}-18-delivery-streams"))
        .await?;
    browser.assert_no_panic("delivery streams list").await?;

    // Deleting needs the name typed.
    browser.goto(&page).await?;
    if javascript {
        browser.wait_hydrated().await?;
    }
    browser.fill_in("input[name=confirm]", &name).await?;
    browser.click_on("section.danger button").await?;
    browser.wait_for_url("/delivery-streams").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&format!("{base}/delivery-streams")).await?;
        if browser
            .body_text()
            .await?
            .contains("No delivery streams yet")
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{name} was never deleted");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    std::fs::remove_dir_all(&root).ok();
    Ok(())
}

#[tokio::test]
async fn delivery_streams_with_javascript() -> anyhow::Result<()> {
    delivery_journey(true).await
}

#[tokio::test]
async fn delivery_streams_without_javascript() -> anyhow::Result<()> {
    delivery_journey(false).await
}

/// Registering a bucket with the form (the store checked by the API's probe write), seeing it
/// listed without its secret, and forgetting it.
async fn endpoint_journey(javascript: bool) -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    const KEY: &str = "console-endpoint-key-31b7";
    let (fjord, root) = Fjord::start_with_local_objects().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "developer").await?;
    let endpoint = TestEndpoint::start(Behaviour::Accept).await?;
    let browser = Browser::start(javascript).await?;
    let base = fjord.control_plane_url();
    browser.sign_in(&base, &email, &password).await?;
    browser
        .goto(&format!("{base}/delivery-streams/new"))
        .await?;
    browser.wait_for_text("HTTP endpoint").await?;
    if javascript {
        browser.wait_hydrated().await?;
        browser
            .click_on("input[name=destination][value=http_endpoint]")
            .await?;
        browser
            .fill_in("input[name=endpoint_url]", "ftp://nowhere")
            .await?;
        browser.wait_for_text("An http:// or https:// URL").await?;
    } else {
        browser
            .click_on("input[name=destination][value=http_endpoint]")
            .await?;
    }
    let name = stream_name("console-endpoint");
    browser.fill_in("input[name=name]", &name).await?;
    browser
        .fill_in("input[name=endpoint_url]", &endpoint.url)
        .await?;
    browser
        .fill_in("input[name=endpoint_name]", "ingest")
        .await?;
    browser.fill_in("input[name=access_key]", KEY).await?;
    browser
        .choose("select[name=content_encoding]", "GZIP")
        .await?;
    browser.fill_in("input[name=retry_seconds]", "60").await?;
    browser.fill_in("input[name=bucket]", "backup").await?;
    browser.fill_in("input[name=size_mib]", "1").await?;
    browser.fill_in("input[name=interval_seconds]", "1").await?;
    browser.click_on("main form button[type=submit]").await?;
    browser
        .wait_for_url(&format!("/delivery-streams/{name}"))
        .await?;
    let page = format!("{base}/delivery-streams/{name}");
    open_when_active(&browser, &page, javascript, &name).await?;
    for fact in [
        endpoint.url.as_str(),
        "Set (never shown)",
        "GZIP",
        "60 s",
        "FailedDataOnly",
        "Backup bucket",
        "arn:aws:s3:::backup",
    ] {
        browser.wait_for_text(fact).await?;
    }
    anyhow::ensure!(
        !browser.body_text().await?.contains(KEY),
        "the key is shown"
    );
    browser
        .assert_no_panic("HTTP endpoint delivery stream page")
        .await?;

    // A test record from the console reaches the endpoint with the key.
    browser.click_on("details.card summary").await?;
    browser
        .fill_in("textarea[name=data]", "{\"via\":\"console\"}")
        .await?;
    browser
        .click_on("details.card form button[type=submit]")
        .await?;
    browser.wait_for_text("Put as record").await?;
    let received = endpoint
        .wait(30, |received| {
            received.iter().any(|request| !request.records.is_empty())
        })
        .await;
    let records: Vec<Vec<u8>> = endpoint.delivered();
    anyhow::ensure!(
        records.len() == 1
            && String::from_utf8_lossy(&records[0]).trim_end() == r#"{"via":"console"}"#,
        "{received:?}"
    );
    anyhow::ensure!(
        received
            .iter()
            .all(|request| request.access_key.as_deref() == Some(KEY)
                && request.content_encoding.as_deref() == Some("gzip")),
        "{received:?}"
    );
    browser.goto(&format!("{base}/delivery-streams")).await?;
    browser.wait_for_text(&endpoint.url).await?;
    anyhow::ensure!(!fjord.log().contains(KEY), "the key is in the log");
    std::fs::remove_dir_all(&root).ok();
    Ok(())
}

#[tokio::test]
async fn endpoint_delivery_with_javascript() -> anyhow::Result<()> {
    endpoint_journey(true).await
}

#[tokio::test]
async fn endpoint_delivery_without_javascript() -> anyhow::Result<()> {
    endpoint_journey(false).await
}

async fn buckets_journey(javascript: bool) -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let s3 = fjord_e2e::delivery::TestS3::from_env()?;
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "admin").await?;
    let base = fjord.control_plane_url();
    let browser = Browser::start(javascript).await?;
    browser.sign_in(&base, &email, &password).await?;
    browser.goto(&format!("{base}/buckets")).await?;
    browser.wait_for_text("No buckets registered").await?;
    if javascript {
        browser.wait_hydrated().await?;
    }
    let remote = s3.create_bucket("console")?;
    browser.fill_in("input[name=name]", "console-lake").await?;
    browser.fill_in("input[name=bucket]", &remote).await?;
    browser.fill_in("input[name=endpoint]", &s3.url).await?;
    browser
        .fill_in("input[name=access_key_id]", &s3.access_key_id)
        .await?;
    browser
        .fill_in("input[name=secret_access_key]", &s3.secret_access_key)
        .await?;
    browser
        .click_on("details.card form button[type=submit]")
        .await?;
    // The registration is done once the page lists it (leaving earlier would cancel the
    // browser's request).
    browser.wait_for_text("console-lake").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&format!("{base}/buckets")).await?;
        let text = browser.body_text().await?;
        if text.contains("console-lake") {
            assert!(text.contains(&format!("bucket {remote}")), "{text}");
            assert!(
                text.contains(&format!("Access key {}", s3.access_key_id)),
                "{text}"
            );
            assert!(!text.contains(&s3.secret_access_key), "never the secret");
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "never registered: {text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.assert_no_panic("buckets").await?;
    browser
        .screenshot(&format!(
            "{}-21-buckets",
            if javascript { "js" } else { "nojs" }
        ))
        .await?;

    if javascript {
        browser.wait_hydrated().await?;
    }
    browser.click_on("details.confirm summary").await?;
    browser
        .click_on("details.confirm form button[type=submit]")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&format!("{base}/buckets")).await?;
        if browser.body_text().await?.contains("No buckets registered") {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

#[tokio::test]
async fn buckets_with_javascript() -> anyhow::Result<()> {
    buckets_journey(true).await
}

#[tokio::test]
async fn buckets_without_javascript() -> anyhow::Result<()> {
    buckets_journey(false).await
}

//! The web console in a real browser (headless Chromium over WebDriver) against a running
//! Fjord: the core flows with JavaScript (hydrated pages) and without (forms post, the server
//! renders), a viewer who is not offered admin pages and is refused by the server anyway.
//! Screenshots of every main page land in `browser::screenshot_dir()`.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_kinesis::primitives::Blob;
use fjord_e2e::browser::{self, Browser};
use fjord_e2e::{Fjord, Options, stream_name};

/// Signs in through the sign-in form and waits for the streams page.
async fn sign_in(
    browser: &Browser,
    fjord: &Fjord,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser
        .sign_in(&fjord.control_plane_url(), email, password)
        .await
}

/// Reloads `url` until the page says `text` (a stream becomes ACTIVE within a reconcile).
async fn reload_until(browser: &Browser, url: &str, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(url).await?;
        if browser.javascript {
            // Not away again mid-hydration: let each load finish becoming interactive.
            browser.wait_hydrated().await?;
        }
        if browser.body_text().await?.contains(text) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{url} never said {text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn input_value(browser: &Browser, css: &str) -> anyhow::Result<String> {
    let element = browser.find(css).await?;
    Ok(browser
        .property(&element, "value")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The same journey with and without JavaScript; `tag` names the screenshots.
async fn core_flows(javascript: bool) -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let tag = if javascript { "js" } else { "nojs" };
    let fjord = Fjord::start_with(Options {
        // Metrics reach the monitoring charts within a second.
        settings: vec![(
            "FJORD__GATEWAY__METRICS_FLUSH_MS".to_owned(),
            "300".to_owned(),
        )],
        ..Options::default()
    })
    .await?;
    let tenant = fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "admin").await?;
    let browser = Browser::start(javascript).await?;
    let base = fjord.control_plane_url();

    // Sign in (the page asked for comes back after).
    browser.goto(&format!("{base}/sign-in")).await?;
    browser.screenshot(&format!("{tag}-01-sign-in")).await?;
    browser.assert_no_panic("01-sign-in").await?;
    sign_in(&browser, &fjord, &email, &password).await?;
    browser.wait_for_text("No data streams yet").await?;
    browser.wait_for_text(&email).await?;
    browser
        .screenshot(&format!("{tag}-02-streams-empty"))
        .await?;
    browser.assert_no_panic("02-streams-empty").await?;

    // Create a provisioned stream with two shards.
    let name = stream_name("console");
    browser.click_on("a[href='/streams/new']").await?;
    browser.wait_for_text("Data stream configuration").await?;
    if javascript {
        browser.wait_hydrated().await?;
        // Inline validation before submit.
        browser.fill_in("input[name=name]", "bad name!").await?;
        browser.wait_for_text("is not allowed").await?;
    }
    browser.fill_in("input[name=name]", &name).await?;
    browser
        .click_on("input[name=mode][value=provisioned]")
        .await?;
    browser.fill_in("input[name=shard_count]", "2").await?;
    browser.fill_in("textarea[name=tags]", "env=test").await?;
    browser
        .screenshot(&format!("{tag}-03-create-stream"))
        .await?;
    browser.assert_no_panic("03-create-stream").await?;
    browser.click_on("main form button[type=submit]").await?;
    browser.wait_for_url(&format!("/streams/{name}")).await?;
    let stream_url = format!("{base}/streams/{name}");
    reload_until(&browser, &stream_url, "ACTIVE").await?;
    browser.wait_for_text("shardId-000000000001").await?;
    browser
        .screenshot_full(&format!("{tag}-04-stream-details"), 1280)
        .await?;
    browser.assert_no_panic("04-stream-details").await?;

    // A record put through the AWS SDK shows in the data viewer.
    let sdk = fjord.client(&tenant);
    let put = sdk
        .put_record()
        .stream_name(&name)
        .partition_key("order-7")
        .data(Blob::new(r#"{"order":7,"total":42.5}"#))
        .send()
        .await?;
    let shard = put.shard_id().to_owned();
    browser.goto(&format!("{stream_url}/data")).await?;
    browser.wait_for_text("Pick a shard").await?;
    if javascript {
        browser.wait_hydrated().await?;
    }
    browser.choose("select[name=shard]", &shard).await?;
    browser.choose("select[name=from]", "trim_horizon").await?;
    browser.click_on("form.toolbar button[type=submit]").await?;
    browser.wait_for_text("order-7").await?;
    browser.wait_for_text("\"total\": 42.5").await?;
    browser.wait_for_text(put.sequence_number()).await?;
    browser
        .screenshot_full(&format!("{tag}-05-data-viewer"), 1280)
        .await?;
    browser.assert_no_panic("05-data-viewer").await?;

    // A test record put from the console is found by the SDK.
    browser.click_on("details.card summary").await?;
    browser
        .fill_in("input[name=partition_key]", "from-console")
        .await?;
    browser
        .fill_in("textarea[name=data]", &format!("hello from {tag}"))
        .await?;
    browser
        .click_on("details.card form button[type=submit]")
        .await?;
    browser.wait_for_text("Put into").await?;
    // "View it" reads from that record's sequence number (the at-sequence position).
    browser.click_on("p.ok a").await?;
    browser.wait_for_url("from=at_sequence").await?;
    browser.wait_for_text(&format!("hello from {tag}")).await?;
    let records = read_all(&sdk, &name).await?;
    assert!(
        records
            .iter()
            .any(|data| data == &format!("hello from {tag}")),
        "the console's record is not in the stream: {records:?}"
    );

    if javascript {
        // The live tail follows a record put after it started.
        browser.choose("section.card select", &shard).await?;
        browser.click_on("section.card button").await?;
        browser.wait_for_text("Following new records").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        sdk.put_record()
            .stream_name(&name)
            .partition_key("order-7")
            .data(Blob::new("tailed record"))
            .send()
            .await?;
        browser.wait_for_text("tailed record").await?;
        browser.screenshot_full("js-05b-live-tail", 1280).await?;
    }

    // The monitoring tab charts the records put and read; the list shows the sparkline.
    reload_until(
        &browser,
        &format!("{stream_url}/monitoring"),
        "Incoming bytes, last 60 minutes: ",
    )
    .await?;
    let body = browser.body_text().await?;
    for chart in ["Incoming records", "Incoming bytes", "Outgoing records"] {
        assert!(
            body.contains(&format!("{chart}, last 60 minutes: "))
                && !body.contains(&format!("{chart}, last 60 minutes: none")),
            "the {chart} chart shows no traffic: {body}"
        );
    }
    browser
        .screenshot_full(&format!("{tag}-06-monitoring"), 1280)
        .await?;
    browser.assert_no_panic("06-monitoring").await?;
    browser.goto(&format!("{base}/streams")).await?;
    browser.find("td.spark svg").await?;
    browser.screenshot(&format!("{tag}-06b-streams")).await?;
    browser.assert_no_panic("06b-streams").await?;

    // Create an access key, use it, disable it: the endpoint refuses it.
    browser.goto(&format!("{base}/keys")).await?;
    browser.wait_for_text("Create access key").await?;
    if javascript {
        browser.wait_hydrated().await?;
    }
    // Open by default; a click would close it.
    browser
        .fill_in("input[name=name]", &format!("ci {tag}"))
        .await?;
    browser
        .click_on("details.card form button[type=submit]")
        .await?;
    browser.wait_for_text("shown only this once").await?;
    let key_id = input_value(&browser, ".secret:nth-of-type(1) input").await?;
    let secret = input_value(
        &browser,
        ".callout .secret:nth-of-type(2) input, .callout .secret + .secret input",
    )
    .await?;
    browser
        .screenshot_full(&format!("{tag}-07-key-created"), 1280)
        .await?;
    browser.assert_no_panic("07-key-created").await?;
    anyhow::ensure!(
        key_id.starts_with("AKIA") || key_id.len() == 20,
        "odd key id {key_id}"
    );
    let keyed = fjord.client_with_secret(&key_id, &secret);
    keyed
        .list_streams()
        .send()
        .await
        .context("the new key should work")?;
    if !javascript {
        // The secret is shown once: a reload no longer has it.
        browser.goto(&format!("{base}/keys")).await?;
        anyhow::ensure!(
            !browser.body_text().await?.contains(&secret),
            "the secret was shown twice"
        );
    }
    browser
        .click_on(&format!("button[aria-label='Disable ci {tag}']"))
        .await?;
    browser.wait_for_text("Disabled").await?;
    browser
        .screenshot_full(&format!("{tag}-08-keys"), 1280)
        .await?;
    browser.assert_no_panic("08-keys").await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match keyed.list_streams().send().await {
            Err(_) => break,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Ok(_) => anyhow::bail!("a disabled key still works after 10 s"),
        }
    }

    // Delete the key: it leaves the list.
    browser.goto(&format!("{base}/keys")).await?;
    browser.wait_for_text(&key_id).await?;
    browser
        .click_on(&format!("summary[aria-label='Delete ci {tag}']"))
        .await?;
    browser.click_on("details[open] form button.danger").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while browser.body_text().await?.contains(&key_id) {
        anyhow::ensure!(Instant::now() < deadline, "the deleted key is still listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The other main pages render.
    for (path, text, shot) in [
        ("/users", "Invite someone", "09-users"),
        ("/audit", "streams:Create", "10-audit"),
        (
            "/getting-started",
            "aws --endpoint-url",
            "11-getting-started",
        ),
    ] {
        browser.goto(&format!("{base}{path}")).await?;
        browser.wait_for_text(text).await?;
        browser
            .screenshot_full(&format!("{tag}-{shot}"), 1280)
            .await?;
        browser.assert_no_panic(path).await?;
    }
    browser.wait_for_text(&tenant.account_id).await?;

    // The audit log filters by action prefix.
    browser
        .goto(&format!("{base}/audit?action=streams%3A"))
        .await?;
    browser.wait_for_text("streams:Create").await?;
    let filtered = browser.body_text().await?;
    assert!(
        !filtered.contains("auth:SignIn"),
        "the action filter let other entries through: {filtered}"
    );

    // A phone-sized screen.
    browser.set_size(390, 844).await?;
    browser.goto(&format!("{base}/streams")).await?;
    browser.wait_for_text(&name).await?;
    browser
        .screenshot(&format!("{tag}-12-streams-phone"))
        .await?;
    browser.assert_no_panic("12-streams-phone").await?;
    browser.set_size(1280, 900).await?;

    if javascript {
        // No page failed to hydrate along the way (a hydration mismatch panics in the wasm).
        let log = browser.console_log().await?;
        assert!(
            !log.contains("panicked"),
            "a page panicked in the browser: {log}"
        );
    }

    // Delete the stream, typing its name to confirm.
    browser.goto(&stream_url).await?;
    browser.wait_for_text("Delete data stream").await?;
    if javascript {
        browser.wait_hydrated().await?;
    }
    browser
        .fill_in("section.danger input[name=confirm]", &name)
        .await?;
    browser
        .click_on("section.danger button[type=submit]")
        .await?;
    browser.wait_for_url("/streams").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = fjord.client(&tenant).list_streams().send().await?;
        if !listed.stream_names().contains(&name) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the stream was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Sign out: the next page asks for a sign-in again.
    browser
        .click_on("header form button[type=submit]:last-of-type")
        .await?;
    browser.wait_for_url("/sign-in").await?;
    browser.goto(&format!("{base}/streams")).await?;
    browser.wait_for_url("/sign-in?next=").await?;
    Ok(())
}

async fn read_all(sdk: &aws_sdk_kinesis::Client, stream: &str) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let shards = sdk.list_shards().stream_name(stream).send().await?;
    for shard in shards.shards() {
        let iterator = sdk
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await?;
        let records = sdk
            .get_records()
            .shard_iterator(iterator.shard_iterator().unwrap_or_default())
            .send()
            .await?;
        for record in records.records() {
            found.push(String::from_utf8_lossy(record.data().as_ref()).into_owned());
        }
    }
    Ok(found)
}

#[tokio::test]
async fn core_flows_with_javascript() -> anyhow::Result<()> {
    core_flows(true).await
}

#[tokio::test]
async fn core_flows_without_javascript() -> anyhow::Result<()> {
    core_flows(false).await
}

#[tokio::test]
async fn a_viewer_is_not_offered_admin_pages_and_is_refused_anyway() -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "viewer").await?;
    let browser = Browser::start(true).await?;
    sign_in(&browser, &fjord, &email, &password).await?;
    browser.wait_hydrated().await?;
    let nav = browser.text(&browser.find("nav.side").await?).await?;
    assert!(
        nav.contains("Data streams") && nav.contains("Access keys"),
        "{nav}"
    );
    assert!(
        !nav.contains("Users and roles") && !nav.contains("Audit log"),
        "a viewer is offered: {nav}"
    );
    assert!(
        browser.find_all("a[href='/streams/new']").await?.is_empty(),
        "a viewer is offered stream creation"
    );
    browser.screenshot("js-13-viewer-streams").await?;

    // Typing the address anyway: the page says why, and the API refused.
    let base = fjord.control_plane_url();
    browser.goto(&format!("{base}/users")).await?;
    browser.wait_for_text("needs the admin role").await?;
    browser.screenshot("js-14-viewer-users-refused").await?;
    browser.goto(&format!("{base}/audit")).await?;
    browser
        .wait_for_text("Reading the audit log needs the admin role")
        .await?;

    // The server refuses a viewer's invite however it is sent.
    let cookies = browser_cookies(&browser).await?;
    let answer = reqwest::Client::new()
        .post(format!("{base}/console/fn/invite"))
        .header("cookie", cookies)
        .header("origin", &base)
        .form(&[("email", "mallory@example.com"), ("role", "owner")])
        .send()
        .await?;
    assert_eq!(answer.status(), 403, "{}", answer.text().await?);
    Ok(())
}

async fn browser_cookies(browser: &Browser) -> anyhow::Result<String> {
    let value = browser.execute("return 1").await.ok();
    let _ = value;
    let cookies = browser.cookies().await?;
    Ok(cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; "))
}

#[tokio::test]
async fn an_invited_person_joins_through_the_link_and_switches_tenants() -> anyhow::Result<()> {
    if !browser::available() {
        eprintln!("SKIPPED: chromium/chromedriver not installed (.ci/run installs them)");
        return Ok(());
    }
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    fjord.create_tenant("globex").await?;
    let (admin_email, admin_password) = fjord.create_user("acme", "admin").await?;
    let base = fjord.control_plane_url();

    // The admin invites grace@ as a developer and gets a link.
    let admin = Browser::start(true).await?;
    sign_in(&admin, &fjord, &admin_email, &admin_password).await?;
    admin.goto(&format!("{base}/users")).await?;
    admin.wait_for_text("Invite someone").await?;
    admin.wait_hydrated().await?;
    admin
        .fill_in("input[name=email][type=email]", "grace@example.com")
        .await?;
    admin
        .choose("form.toolbar select[name=role]", "developer")
        .await?;
    admin.click_on("form.toolbar button[type=submit]").await?;
    admin.wait_for_text("Send them this link").await?;
    let link = input_value(&admin, ".callout .secret input").await?;
    assert!(
        link.starts_with(&format!("{base}/accept-invitation#token=")),
        "{link}"
    );
    admin.wait_for_text("pending").await?;
    admin.screenshot_full("js-15-users-invited", 1280).await?;

    // Grace opens it with JavaScript (the token comes from the fragment), picks a password.
    // (The admin changes her role and removes her at the end.)
    let grace = Browser::start(true).await?;
    grace.goto(&link).await?;
    grace.wait_hydrated().await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while input_value(&grace, "input[name=token]").await?.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the token was not taken from the link"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    grace
        .fill_in("input[name=password]", "correct horse battery staple")
        .await?;
    grace.screenshot("js-16-accept-invitation").await?;
    grace.click_on("main form button[type=submit]").await?;
    grace.wait_for_url("/streams").await?;
    grace.wait_for_text("grace@example.com").await?;
    grace.wait_for_text("developer").await?;

    // Also a member of globex now (operator-added): the header offers the switch.
    fjord
        .admin_json(&[
            "create-user",
            "grace@example.com",
            "--tenant",
            "globex",
            "--role",
            "viewer",
        ])
        .await?;
    grace.goto(&format!("{base}/streams")).await?;
    grace.wait_hydrated().await?;
    let globex_account = {
        let options = grace.find_all("header select[name=tenant] option").await?;
        anyhow::ensure!(options.len() == 2, "expected two tenants to switch between");
        let mut account = String::new();
        for option in options {
            if grace.text(&option).await?.starts_with("globex") {
                account = grace
                    .property(&option, "value")
                    .await?
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        account
    };
    grace
        .choose("header select[name=tenant]", &globex_account)
        .await?;
    grace
        .click_on("header form button.secondary[type=submit]")
        .await?;
    grace
        .wait_for_text(&format!("globex ({globex_account})"))
        .await?;
    let role = grace.text(&grace.find("header .role").await?).await?;
    assert_eq!(role, "viewer", "the role in globex");
    grace.screenshot("js-17-switched-tenant").await?;
    // The admin makes grace a viewer in acme, then removes her.
    admin.goto(&format!("{base}/users")).await?;
    admin.wait_for_text("grace@example.com").await?;
    admin.wait_hydrated().await?;
    let row = "tr[data-member='grace@example.com']";
    admin
        .choose(&format!("{row} select[name=role]"), "viewer")
        .await?;
    admin.click_on(&format!("{row} form.inline button")).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        admin.goto(&format!("{base}/users")).await?;
        let chosen = admin
            .find(&format!("{row} select[name=role] option:checked"))
            .await?;
        if admin.property(&chosen, "value").await? == "viewer" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "grace's role did not change");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin.wait_hydrated().await?;
    admin
        .click_on(&format!("{row} details.confirm summary"))
        .await?;
    admin
        .click_on(&format!("{row} details[open] button.danger"))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !admin.find_all(row).await?.is_empty() {
        anyhow::ensure!(Instant::now() < deadline, "grace is still a member");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for browser in [&admin, &grace] {
        let log = browser.console_log().await?;
        assert!(
            !log.contains("panicked"),
            "a page panicked in the browser: {log}"
        );
    }
    Ok(())
}

//! The README's first command ends in `fjord serve --demo-tenant demo`: what it prints must
//! work as printed — the REST API address, a sign-in, and an access key for the AWS endpoint.

use std::time::{Duration, Instant};

use fjord_e2e::{Fjord, Options, sdk_client};

/// The value after `label` on its line of the start-up banner.
fn printed<'a>(log: &'a str, label: &str) -> Option<&'a str> {
    log.lines()
        .find_map(|line| line.trim_start().strip_prefix(label))
        .map(str::trim)
}

async fn banner(fjord: &Fjord) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = fjord.log();
        if log.contains("Try it:") {
            return log;
        }
        assert!(Instant::now() < deadline, "no banner in {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_demo_banner_prints_a_working_sign_in_and_access_key() {
    let mut fjord = Fjord::start_with(Options {
        serve_args: vec!["--demo-tenant".into(), "demo".into()],
        ..Options::default()
    })
    .await
    .unwrap();
    let log = banner(&fjord).await;
    let api = printed(&log, "REST API:")
        .and_then(|text| text.split_whitespace().next())
        .unwrap_or_else(|| panic!("no REST API line in {log}"))
        .to_owned();
    assert_eq!(api, format!("{}/api/v1", fjord.control_plane_url()));
    let sign_in = printed(&log, "sign in:").unwrap_or_else(|| panic!("no sign-in in {log}"));
    let (email, password) = sign_in.split_once(" / ").expect("email / password");
    let key_id = printed(&log, "access key id:").unwrap().to_owned();
    let secret = printed(&log, "secret access key:").unwrap().to_owned();

    let client = reqwest::Client::new();
    let session: serde_json::Value = client
        .post(format!("{api}/auth/sign-in"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["role"], "owner", "{session}");
    assert_eq!(session["tenant"]["name"], "demo", "{session}");
    let reference = client.get(format!("{api}/reference")).send().await.unwrap();
    assert_eq!(reference.status(), 200);

    let kinesis = sdk_client(&fjord.endpoint, &key_id, &secret);
    kinesis
        .list_streams()
        .send()
        .await
        .expect("the printed key works");

    // A second start prints the same sign-in and key: nothing is re-created.
    fjord.restart().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while fjord.log().matches("Try it:").count() < 2 {
        assert!(Instant::now() < deadline, "no second banner");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = fjord.log();
    let last_sign_in = log
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("sign in:"))
        .unwrap()
        .trim();
    assert_eq!(last_sign_in, sign_in);
    assert_eq!(
        log.matches(&format!("access key id:           {key_id}"))
            .count(),
        2
    );
}

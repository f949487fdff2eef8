//! The console's HTTP contract, without a browser: pages need a session, sign-in sets
//! HttpOnly SameSite=Strict cookies, a browser without JavaScript gets redirects with the
//! error in the address, cross-site posts are refused and change nothing, an expired access
//! cookie is renewed from the refresh cookie (once, even under concurrent requests), and
//! sign-out revokes the refresh token.

use anyhow::Context as _;
use fjord_e2e::Fjord;
use reqwest::header::{ACCEPT, COOKIE, LOCATION, ORIGIN, REFERER, SET_COOKIE};
use reqwest::redirect::Policy;

const FORM_ACCEPT: &str = "text/html,application/xhtml+xml";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The `Set-Cookie` headers of `answer`, and the `name=value` pairs they set.
fn set_cookies(answer: &reqwest::Response) -> Vec<String> {
    answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter().find_map(|c| {
        let pair = c.split(';').next()?;
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Signs in like the no-JavaScript form does; the session cookies as a `Cookie` header.
async fn sign_in(
    fjord: &Fjord,
    email: &str,
    password: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    let base = fjord.control_plane_url();
    let answer = client()
        .post(format!("{base}/console/fn/sign_in"))
        .header(ACCEPT, FORM_ACCEPT)
        .header(ORIGIN, &base)
        .header(REFERER, format!("{base}/sign-in?next=%2Fkeys"))
        .form(&[("email", email), ("password", password), ("next", "/keys")])
        .send()
        .await?;
    anyhow::ensure!(
        answer.status() == 302,
        "sign-in answered {}",
        answer.status()
    );
    let set = set_cookies(&answer);
    let access = cookie_value(&set, "fjord_access").context("no access cookie")?;
    let refresh = cookie_value(&set, "fjord_refresh").context("no refresh cookie")?;
    Ok((
        format!("fjord_access={access}; fjord_refresh={refresh}"),
        set,
    ))
}

/// What the REST API answers to `refresh_token` (the live one is 200, a revoked one 401).
async fn refresh_status(base: &str, refresh_token: &str) -> anyhow::Result<u16> {
    let answer = client()
        .post(format!("{base}/api/v1/auth/refresh"))
        .json(&serde_json::json!({ "refresh_token": refresh_token }))
        .send()
        .await?;
    Ok(answer.status().as_u16())
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_sets_strict_http_only_cookies() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "developer").await?;
    let base = fjord.control_plane_url();

    let answer = client()
        .get(format!("{base}/streams/orders?x=1"))
        .send()
        .await?;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()[LOCATION],
        "/sign-in?next=%2Fstreams%2Forders%3Fx%3D1"
    );
    let page = client().get(format!("{base}/sign-in")).send().await?;
    assert_eq!(page.status(), 200);
    assert!(page.text().await?.contains("Sign in to Fjord"));

    // A wrong password: back to the form, the error in the address, no cookie.
    let refused = client()
        .post(format!("{base}/console/fn/sign_in"))
        .header(ACCEPT, FORM_ACCEPT)
        .header(ORIGIN, &base)
        .header(REFERER, format!("{base}/sign-in"))
        .form(&[("email", email.as_str()), ("password", "not the password")])
        .send()
        .await?;
    assert_eq!(refused.status(), 302);
    assert!(
        set_cookies(&refused).is_empty(),
        "{:?}",
        set_cookies(&refused)
    );
    let back = refused.headers()[LOCATION].to_str()?.to_owned();
    assert!(
        back.starts_with(&format!("{base}/sign-in?")) && back.contains("__err="),
        "{back}"
    );
    let shown = client().get(&back).send().await?.text().await?;
    assert!(
        shown.contains("Invalid email or password") || shown.contains("invalid"),
        "{shown}"
    );
    assert!(
        !shown.contains("not the password"),
        "the password is echoed"
    );

    // The right one: cookies, and the page asked for.
    let (cookies, set) = sign_in(&fjord, &email, &password).await?;
    for cookie in set.iter().filter(|c| c.starts_with("fjord_")) {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
    }
    let keys = client()
        .get(format!("{base}/keys"))
        .header(COOKIE, &cookies)
        .send()
        .await?;
    assert_eq!(keys.status(), 200);
    assert_eq!(keys.headers()["cache-control"], "no-store");
    assert!(keys.text().await?.contains(&email));
    // An absolute `next` is not followed (no open redirect).
    let answer = client()
        .post(format!("{base}/console/fn/sign_in"))
        .header(ACCEPT, FORM_ACCEPT)
        .header(ORIGIN, &base)
        .form(&[
            ("email", email.as_str()),
            ("password", password.as_str()),
            ("next", "https://evil.example/"),
        ])
        .send()
        .await?;
    assert_eq!(answer.headers()[LOCATION], "/streams");
    Ok(())
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_changes_nothing() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    let tenant = fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "admin").await?;
    let base = fjord.control_plane_url();
    let (cookies, _) = sign_in(&fjord, &email, &password).await?;
    let form = [
        ("name", "forged"),
        ("mode", "on_demand"),
        ("retention_hours", "24"),
    ];
    for (origin, fetch_site) in [
        ("http://evil.example", None),
        (base.as_str(), Some("cross-site")),
        ("null", None),
    ] {
        let mut request = client()
            .post(format!("{base}/console/fn/create_stream"))
            .header(COOKIE, &cookies)
            .header(ACCEPT, FORM_ACCEPT)
            .header(ORIGIN, origin)
            .form(&form);
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        let answer = request.send().await?;
        assert_eq!(
            answer.status(),
            403,
            "origin {origin}, sec-fetch-site {fetch_site:?}"
        );
    }
    let streams = fjord.client(&tenant).list_streams().send().await?;
    assert!(
        streams.stream_names().is_empty(),
        "a forged post created {:?}",
        streams.stream_names()
    );

    // The same form from the console's own page creates the stream.
    let answer = client()
        .post(format!("{base}/console/fn/create_stream"))
        .header(COOKIE, &cookies)
        .header(ACCEPT, FORM_ACCEPT)
        .header(ORIGIN, &base)
        .header("sec-fetch-site", "same-origin")
        .header(REFERER, format!("{base}/streams/new"))
        .form(&form)
        .send()
        .await?;
    assert_eq!(answer.status(), 302);
    assert_eq!(answer.headers()[LOCATION], "/streams/forged");
    let streams = fjord.client(&tenant).list_streams().send().await?;
    assert_eq!(streams.stream_names(), ["forged"]);
    Ok(())
}

#[tokio::test]
async fn an_expired_access_cookie_is_renewed_once_from_the_refresh_cookie() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "viewer").await?;
    let base = fjord.control_plane_url();
    let (_, set) = sign_in(&fjord, &email, &password).await?;
    let refresh = cookie_value(&set, "fjord_refresh").context("refresh cookie")?;

    // The browser dropped the access cookie (its Max-Age ran out); several requests at once.
    let only_refresh = format!("fjord_refresh={refresh}");
    let pages = futures::future::join_all((0..4).map(|_| {
        client()
            .get(format!("{base}/streams"))
            .header(COOKIE, &only_refresh)
            .send()
    }))
    .await;
    let mut renewed = Vec::new();
    for page in pages {
        let page = page?;
        assert_eq!(page.status(), 200, "a page with only the refresh cookie");
        let set = set_cookies(&page);
        renewed.push((
            cookie_value(&set, "fjord_access"),
            cookie_value(&set, "fjord_refresh"),
        ));
        assert!(page.text().await?.contains(&email));
    }
    let (access, next_refresh) = renewed[0].clone();
    let (access, next_refresh) = (
        access.context("renewed access")?,
        next_refresh.context("renewed refresh")?,
    );
    assert!(
        renewed
            .iter()
            .all(|r| r == &(Some(access.clone()), Some(next_refresh.clone()))),
        "one renewal, shared: {renewed:?}"
    );
    assert_ne!(next_refresh, refresh);

    // The renewed session works (the concurrent renewals did not look like token theft).
    let cookies = format!("fjord_access={access}; fjord_refresh={next_refresh}");
    let keys = client()
        .get(format!("{base}/keys"))
        .header(COOKIE, &cookies)
        .send()
        .await?;
    assert_eq!(keys.status(), 200);
    assert!(keys.text().await?.contains("Access keys"));
    assert_eq!(
        refresh_status(&base, &next_refresh).await?,
        200,
        "the renewed refresh token is the live one"
    );
    Ok(())
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_and_clears_the_cookies() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    fjord.create_tenant("acme").await?;
    let (email, password) = fjord.create_user("acme", "viewer").await?;
    let base = fjord.control_plane_url();
    let (cookies, set) = sign_in(&fjord, &email, &password).await?;
    let refresh = cookie_value(&set, "fjord_refresh").context("refresh cookie")?;
    let answer = client()
        .post(format!("{base}/console/fn/sign_out"))
        .header(COOKIE, &cookies)
        .header(ACCEPT, FORM_ACCEPT)
        .header(ORIGIN, &base)
        .send()
        .await?;
    assert_eq!(answer.status(), 302);
    assert_eq!(answer.headers()[LOCATION], "/sign-in");
    let cleared = set_cookies(&answer);
    for name in ["fjord_access", "fjord_refresh"] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
            "{cleared:?}"
        );
    }
    assert_eq!(
        refresh_status(&base, &refresh).await?,
        401,
        "the refresh token still works after sign-out"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_addresses_and_the_console_assets() -> anyhow::Result<()> {
    let fjord = Fjord::start().await?;
    let base = fjord.control_plane_url();
    let css = client()
        .get(format!("{base}/console/assets/console.css"))
        .send()
        .await?;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await?.contains("--brand"));
    assert_eq!(
        client()
            .get(format!("{base}/console/assets/nope.js"))
            .send()
            .await?
            .status(),
        404
    );
    let api = client().get(format!("{base}/api/v1/nope")).send().await?;
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    // The REST API is not behind the console's session: a bearer-less call is 401, not a redirect.
    assert_eq!(
        client()
            .get(format!("{base}/api/v1/streams"))
            .send()
            .await?
            .status(),
        401
    );
    Ok(())
}

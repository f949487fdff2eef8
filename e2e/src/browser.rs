//! A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromium` and
//! `chromium-driver`), for the console's end-to-end tests. Each [`Browser`] runs its own
//! chromedriver and is closed when dropped. Screenshots go to [`screenshot_dir`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_*` calls keep looking.
pub const WAIT: Duration = Duration::from_secs(30);

/// Where screenshots are saved: `$FJORD_SCREENSHOTS`, or `console-screenshots` in the cargo
/// target directory.
pub fn screenshot_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FJORD_SCREENSHOTS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-screenshots")
}

/// Is a browser installed? (`.ci/run` installs one and sets `FJORD_REQUIRE_BROWSER`, so there
/// a missing browser fails the tests; a developer machine without one skips them.)
pub fn available() -> bool {
    let installed = chromedriver_path().is_some() && chromium_path().is_some();
    assert!(
        installed || std::env::var_os("FJORD_REQUIRE_BROWSER").is_none(),
        "FJORD_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
    );
    installed
}

/// What axe-core found on a page.
#[derive(Debug)]
pub struct AxeReport {
    /// One line per violated rule: rule, impact, what it means and the offending elements.
    pub violations: Vec<String>,
    /// How many rules applied and passed (a handful means axe barely saw a page).
    pub passed_rules: u64,
}

/// WebDriver key codes for [`Browser::press`].
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";

/// axe-core's browser script (the accessibility checker, from npm): `$FJORD_AXE_JS`, or
/// `~/.cache/fjord/axe/node_modules/axe-core/axe.min.js` where `.ci/run` installs it. `None`
/// when absent, which fails under `FJORD_REQUIRE_BROWSER` like a missing browser.
pub fn axe_script() -> Option<String> {
    let path = std::env::var_os("FJORD_AXE_JS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| {
                PathBuf::from(home).join(".cache/fjord/axe/node_modules/axe-core/axe.min.js")
            })
        })?;
    let script = std::fs::read_to_string(&path).ok();
    assert!(
        script.is_some() || std::env::var_os("FJORD_REQUIRE_BROWSER").is_none(),
        "FJORD_REQUIRE_BROWSER is set but axe-core is not at {}",
        path.display()
    );
    script
}

fn chromedriver_path() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn chromium_path() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub struct Browser {
    http: reqwest::Client,
    session_url: String,
    driver: Child,
    driver_port: u16,
    session_id: String,
    pub javascript: bool,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// A fresh headless browser (its own profile), 1280×900, with or without JavaScript.
    pub async fn start(javascript: bool) -> anyhow::Result<Browser> {
        let driver_path = chromedriver_path().context("chromedriver is not installed")?;
        let chromium = chromium_path().context("chromium is not installed")?;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start chromedriver")?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(answer) = http.get(format!("{base}/status")).send().await
                && answer.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--no-first-run", "--password-store=basic",
            ],
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
                "goog:loggingPrefs": { "browser": "ALL" },
            }}}))
            .send()
            .await?
            .json()
            .await?;
        let session = created["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no WebDriver session: {created}"))?;
        Ok(Browser {
            http,
            session_url: format!("{base}/session/{session}"),
            driver,
            driver_port: port,
            session_id: session.to_owned(),
            javascript,
        })
    }

    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.session_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await?.json().await?;
        if let Some(error) = answer["value"]["error"].as_str() {
            bail!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        Ok(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await?;
        Ok(())
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        let value = self.command(reqwest::Method::GET, "/url", None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    pub async fn set_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await?;
        Ok(())
    }

    /// Every element matching `css` now.
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let found = self
            .command(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item[ELEMENT].as_str().map(|id| Element(id.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find_all(css).await?.into_iter().next() {
                return Ok(element);
            }
            if Instant::now() > deadline {
                bail!(
                    "no element matches {css} on {}: {}",
                    self.url().await?,
                    self.body_text().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let body = self.body_text().await.unwrap_or_default();
            if body.contains(text) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "“{text}” never appeared on {}; the page says: {body}",
                    self.url().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the address contains `part`.
    pub async fn wait_for_url(&self, part: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await?;
            if url.contains(part) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the address never contained {part}: {url}; the page says: {}",
                    self.body_text().await?
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's visible text. (Retried: a page that navigates between finding `<body>` and
    /// reading it leaves a stale reference.)
    pub async fn body_text(&self) -> anyhow::Result<String> {
        let mut attempt = 0;
        loop {
            let body = self.find_all("body").await?;
            let read = match body.first() {
                Some(element) => self.text(element).await,
                None => Ok(String::new()),
            };
            match read {
                Err(error) if attempt < 5 && error.to_string().contains("stale element") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    pub async fn text(&self, element: &Element) -> anyhow::Result<String> {
        let value = self
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/text", element.0),
                None,
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// A DOM property (e.g. `value`, `type`, `disabled`).
    pub async fn property(&self, element: &Element, name: &str) -> anyhow::Result<Value> {
        self.command(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", element.0),
            None,
        )
        .await
    }

    pub async fn click(&self, element: &Element) -> anyhow::Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await?;
        Ok(())
    }

    /// Clears a field and types `text` into it.
    pub async fn fill(&self, element: &Element, text: &str) -> anyhow::Result<()> {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await?;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .await?;
        Ok(())
    }

    /// Fills the field matching `css`.
    pub async fn fill_in(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let element = self.find(css).await?;
        self.fill(&element, text).await
    }

    /// Clicks the first element matching `css`.
    pub async fn click_on(&self, css: &str) -> anyhow::Result<()> {
        let element = self.find(css).await?;
        self.click(&element).await
    }

    /// Picks the `<option>` with `value` in the `<select>` matching `select_css`.
    pub async fn choose(&self, select_css: &str, value: &str) -> anyhow::Result<()> {
        self.click_on(&format!("{select_css} option[value=\"{value}\"]"))
            .await
    }

    /// The browser's cookies for the current site (HttpOnly ones too), as name and value.
    pub async fn cookies(&self) -> anyhow::Result<Vec<(String, String)>> {
        let value = self.command(reqwest::Method::GET, "/cookie", None).await?;
        Ok(value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| {
                        Some((
                            c["name"].as_str()?.to_owned(),
                            c["value"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Runs `script` in the page (JavaScript only).
    pub async fn execute(&self, script: &str) -> anyhow::Result<Value> {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Signs in through the console's sign-in form: asks for the streams page at `base`, is
    /// sent to sign in, and waits until the streams page is back.
    pub async fn sign_in(&self, base: &str, email: &str, password: &str) -> anyhow::Result<()> {
        self.goto(&format!("{base}/streams")).await?;
        self.wait_for_url("/sign-in?next=").await?;
        if self.javascript {
            self.wait_hydrated().await?;
        }
        self.fill_in("input[name=email]", email).await?;
        self.fill_in("input[name=password]", password).await?;
        self.click_on("main form button[type=submit]").await?;
        self.wait_for_url("/streams").await?;
        self.wait_for_text("Data streams").await?;
        Ok(())
    }

    /// Presses and releases one key (a W3C WebDriver key code, e.g. [`TAB`], [`ENTER`]) on
    /// whatever has the focus, as a person at a keyboard would.
    pub async fn press(&self, key: &str) -> anyhow::Result<()> {
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{
                "type": "key", "id": "keyboard",
                "actions": [{ "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }],
            }]})),
        )
        .await?;
        Ok(())
    }

    /// Types `text` into whatever has the focus.
    pub async fn type_text(&self, text: &str) -> anyhow::Result<()> {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({ "type": "keyDown", "value": c }),
                    json!({ "type": "keyUp", "value": c }),
                ]
            })
            .collect();
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": keys }]})),
        )
        .await?;
        Ok(())
    }

    /// The focused element described as `tag#id.class[name=…]"text"` plus whether a focus
    /// indicator (outline or box shadow) is drawn around it.
    pub async fn focused(&self) -> anyhow::Result<(String, bool)> {
        let value = self
            .execute(
                "const e = document.activeElement; if (!e || e === document.body) return ['body', false];
                 const s = getComputedStyle(e);
                 const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
                 const label = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                   + (e.getAttribute('name') ? '[name=' + e.getAttribute('name') + ']' : '')
                   + (e.getAttribute('href') ? '[href=' + e.getAttribute('href') + ']' : '')
                   + ' \"' + (e.innerText || e.value || '').trim().slice(0, 40) + '\"';
                 return [label, ring];",
            )
            .await?;
        Ok((
            value[0].as_str().unwrap_or_default().to_owned(),
            value[1].as_bool().unwrap_or(false),
        ))
    }

    /// Runs axe-core ([`axe_script`]) on the current page against WCAG 2.2 A and AA.
    pub async fn accessibility_check(&self, axe: &str) -> anyhow::Result<AxeReport> {
        anyhow::ensure!(self.javascript, "axe needs a browser with JavaScript");
        self.execute(axe).await.context("loading axe-core")?;
        let found = self
            .command(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "args": [], "script": "
                    const done = arguments[arguments.length - 1];
                    axe.run(document, {
                        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
                        resultTypes: ['violations', 'passes'],
                    }).then(r => done({ passes: r.passes.length, ok: r.violations.map(v => ({
                        id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
                    })) })).catch(e => done({ error: String(e) }));" })),
            )
            .await?;
        if let Some(error) = found["error"].as_str() {
            bail!("axe failed: {error}");
        }
        let violations = found["ok"]
            .as_array()
            .map(|violations| {
                violations
                    .iter()
                    .map(|v| {
                        format!(
                            "{} ({}): {} — {}",
                            v["id"].as_str().unwrap_or("?"),
                            v["impact"].as_str().unwrap_or("?"),
                            v["help"].as_str().unwrap_or(""),
                            v["nodes"]
                                .as_array()
                                .map(|n| n
                                    .iter()
                                    .filter_map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" | "))
                                .unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(AxeReport {
            violations,
            passed_rules: found["passes"].as_u64().unwrap_or(0),
        })
    }

    /// Waits until the page hydrated (the console marks `<body data-hydrated>`); on failure the
    /// error carries the browser's console log.
    pub async fn wait_hydrated(&self) -> anyhow::Result<()> {
        match self.find("body[data-hydrated]").await {
            Ok(_) => Ok(()),
            Err(error) => {
                let log = self.console_log().await.unwrap_or_default();
                Err(error.context(format!("the browser's console said: {log}")))
            }
        }
    }

    /// Fails if the wasm panicked (e.g. a hydration mismatch) since the last look at the
    /// browser's console; `page` names where we are for the message.
    pub async fn assert_no_panic(&self, page: &str) -> anyhow::Result<()> {
        if !self.javascript {
            return Ok(());
        }
        let log = self.console_log().await?;
        anyhow::ensure!(
            !log.contains("panicked"),
            "the wasm panicked on or before {page}: {log}"
        );
        Ok(())
    }

    /// What the page wrote to the browser console so far (chromedriver's log).
    pub async fn console_log(&self) -> anyhow::Result<String> {
        let entries = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await?;
        Ok(entries
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        format!(
                            "[{}] {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default())
    }

    /// Saves a PNG of the viewport as `<screenshot_dir>/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await?;
        let png =
            base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap_or_default())?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Saves a PNG of the whole page, however long, by growing the window to fit it first.
    pub async fn screenshot_full(&self, name: &str, width: u32) -> anyhow::Result<PathBuf> {
        let height = self
            .command(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({
                "script": "return document.documentElement.scrollHeight", "args": [] })),
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(900)
            .clamp(600, 4000) as u32;
        self.set_size(width, height + 120).await?;
        let path = self.screenshot(name).await;
        self.set_size(1280, 900).await?;
        path
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session (which quits Chromium: killing chromedriver alone leaves the
    /// browser running) with a blocking request, since `drop` cannot await, then chromedriver.
    fn drop(&mut self) {
        use std::io::{Read as _, Write as _};
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.driver_port));
        if let Ok(mut stream) =
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session_id
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
        let _ = self.driver.start_kill();
    }
}

//! Harness for Fjord's black-box tests: starts real `fjord` processes against the Postgres and
//! NATS JetStream given by `FJORD__POSTGRES__URL` / `FJORD__NATS__URL` (as `.ci/services`
//! exports them), each on a fresh database and NATS prefix, and builds official AWS SDK
//! clients (and raw signed requests) against them.

pub mod browser;
pub mod delivery;
pub mod http_endpoint;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use serde::Deserialize;

pub const REGION: &str = "us-east-1";

/// A tenant as `fjord admin create-tenant --output json` prints it.
#[derive(Debug, Clone, Deserialize)]
pub struct Tenant {
    pub tenant_id: String,
    pub name: String,
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// One running `fjord serve`, killed when dropped.
pub struct Fjord {
    child: Option<Child>,
    pub endpoint: String,
    env: Vec<(String, String)>,
    serve_args: Vec<String>,
    log_path: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", uuid::Uuid::new_v4().as_bytes()[0]))
        .collect()
}

/// The `fjord` binary: `FJORD_BIN`, or the one beside this test binary's `deps/` folder.
pub fn fjord_binary() -> PathBuf {
    if let Ok(path) = std::env::var("FJORD_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile dir");
    profile_dir.join("fjord")
}

pub fn postgres_url() -> String {
    std::env::var("FJORD__POSTGRES__URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn nats_url() -> String {
    std::env::var("FJORD__NATS__URL").unwrap_or_else(|_| "nats://127.0.0.1:4333".to_owned())
}

/// A `fjord gateway` process of its own on an installation (see [`Fjord::start_gateway`]),
/// killed when dropped.
pub struct Gateway {
    child: Child,
    pub endpoint: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An official SDK client for `endpoint`, retries off so errors surface as they are.
pub fn sdk_client(endpoint: &str, access_key_id: &str, secret: &str) -> aws_sdk_kinesis::Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "e2e"))
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesis::Client::from_conf(config)
}

/// An official Firehose SDK client for `endpoint`, retries off so errors surface as they are.
pub fn firehose_client(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
) -> aws_sdk_firehose::Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
        .region(aws_sdk_firehose::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "e2e"))
        .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

/// One running `fjord worker`, killed when dropped.
pub struct WorkerProcess {
    child: Option<Child>,
    log_path: PathBuf,
}

impl WorkerProcess {
    /// The worker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `kill -9`: no shutdown path runs, nothing buffered is written or given back.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the worker to write what it buffered and exit.
    pub fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the worker is not running");
        };
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("cannot signal the worker");
        }
        Ok(child.wait()?)
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Options for a started Fjord.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides of `FJORD__*` settings.
    pub settings: Vec<(String, String)>,
    /// Arguments after `fjord serve` (e.g. `--demo-tenant demo`).
    pub serve_args: Vec<String>,
}

impl Fjord {
    /// Starts Fjord on a fresh database and NATS prefix.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// A Fjord whose delivery streams write to a fresh local folder (the embedded object
    /// store), returned beside it.
    pub async fn start_with_local_objects() -> anyhow::Result<(Self, PathBuf)> {
        let root = std::env::temp_dir().join(format!("fjord-objects-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root)?;
        let fjord = Self::start_with(Options {
            settings: vec![(
                "FJORD__DELIVERY__LOCAL_ROOT".to_owned(),
                root.to_string_lossy().into_owned(),
            )],
            ..Options::default()
        })
        .await?;
        Ok((fjord, root))
    }

    pub async fn start_with(options: Options) -> anyhow::Result<Self> {
        let database = format!("fjord_e2e_{}", uuid::Uuid::new_v4().simple());
        let admin_url = postgres_url();
        let mut connection = sqlx_connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut connection)
            .await
            .context("cannot create the test database")?;
        let database_url = replace_database(&admin_url, &database);
        let gateway_port = free_port();
        let control_port = free_port();
        let mut env = vec![
            ("FJORD__POSTGRES__URL".to_owned(), database_url),
            ("FJORD__NATS__URL".to_owned(), nats_url()),
            (
                "FJORD__NATS__PREFIX".to_owned(),
                format!("e2e{}", random_hex(6)),
            ),
            ("FJORD__SECURITY__MASTER_KEY".to_owned(), random_hex(32)),
            ("FJORD__SECURITY__INTERNAL_TOKEN".to_owned(), random_hex(16)),
            (
                "FJORD__GATEWAY__LISTEN".to_owned(),
                format!("127.0.0.1:{gateway_port}"),
            ),
            (
                "FJORD__GATEWAY__CONTROL_PLANE_URL".to_owned(),
                format!("http://127.0.0.1:{control_port}"),
            ),
            (
                "FJORD__CONTROL_PLANE__LISTEN".to_owned(),
                format!("127.0.0.1:{control_port}"),
            ),
            (
                "FJORD__CONTROL_PLANE__RECONCILE_INTERVAL_MS".to_owned(),
                "200".to_owned(),
            ),
            // Delivery metrics reach the REST API within a second.
            (
                "FJORD__DELIVERY__METRICS_FLUSH_MS".to_owned(),
                "500".to_owned(),
            ),
        ];
        for (key, value) in options.settings {
            env.retain(|(existing, _)| existing != &key);
            env.push((key, value));
        }
        let log_dir = std::env::temp_dir().join("fjord-e2e-logs");
        std::fs::create_dir_all(&log_dir)?;
        let log_path = log_dir.join(format!("{database}.log"));
        let mut fjord = Self {
            child: None,
            endpoint: format!("http://127.0.0.1:{gateway_port}"),
            env,
            serve_args: options.serve_args,
            log_path,
        };
        fjord.spawn().await?;
        Ok(fjord)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let child = Command::new(fjord_binary())
            .arg("serve")
            .args(&self.serve_args)
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", fjord_binary().display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(format!("{}/health", self.endpoint)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("fjord exited with {status}; log: {}", self.log());
            }
            if Instant::now() > deadline {
                bail!("fjord did not become healthy in 30 s; log: {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A `fjord worker` process with this Fjord's settings plus `extra` (its own log).
    pub fn start_worker(&self, extra: &[(&str, &str)]) -> anyhow::Result<WorkerProcess> {
        let log_path = self
            .log_path
            .with_extension(format!("worker-{}.log", uuid::Uuid::new_v4().simple()));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(fjord_binary())
            .arg("worker")
            .envs(self.env.iter().cloned())
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {} worker", fjord_binary().display()))?;
        Ok(WorkerProcess {
            child: Some(child),
            log_path,
        })
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `kill -9`: no shutdown path runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// A bearer token for a new `role` member (`<role>@example.com`) of `tenant`, created with
    /// `fjord admin create-user` and signed in over REST.
    pub async fn session(&self, tenant: &str, role: &str) -> anyhow::Result<String> {
        let (email, password) = self.create_user(tenant, role).await?;
        let user = serde_json::json!({ "password": password });
        let session: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/sign-in", self.control_plane_url()))
            .json(&serde_json::json!({"email": email, "password": user["password"]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        session["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("sign-in answered no access token")
    }

    /// A new `role` member (`<role>@example.com`) of `tenant`, made with `fjord admin
    /// create-user`: their email and password.
    pub async fn create_user(&self, tenant: &str, role: &str) -> anyhow::Result<(String, String)> {
        let email = format!("{role}@example.com");
        let user = self
            .admin_json(&["create-user", &email, "--tenant", tenant, "--role", role])
            .await?;
        let password = user["password"]
            .as_str()
            .context("create-user printed no password")?;
        Ok((email, password.to_owned()))
    }

    /// Sets (or, with `None`, removes) a `FJORD__...` setting for the next restart and for
    /// admin commands from now on.
    pub fn set_setting(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(existing, _)| existing != key);
        if let Some(value) = value {
            self.env.push((key.to_owned(), value.to_owned()));
        }
    }

    /// The current value of a `FJORD__...` setting.
    pub fn setting(&self, key: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value.clone())
    }

    /// Starts the process again on the same database and NATS prefix.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn().await
    }

    /// Runs `fjord admin create-tenant` against this installation.
    pub async fn create_tenant(&self, name: &str) -> anyhow::Result<Tenant> {
        self.create_tenant_with(name, &[]).await
    }

    pub async fn create_tenant_with(&self, name: &str, extra: &[&str]) -> anyhow::Result<Tenant> {
        let output = tokio::process::Command::new(fjord_binary())
            .args(["admin", "create-tenant", name, "--output", "json"])
            .args(extra)
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "create-tenant failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8(output.stdout)?;
        serde_json::from_str(text.trim()).with_context(|| format!("unexpected output {text}"))
    }

    /// Runs `fjord admin <args> --output json` against this installation; its JSON output.
    pub async fn admin_json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let output = tokio::process::Command::new(fjord_binary())
            .arg("admin")
            .args(args)
            .args(["--output", "json"])
            .envs(self.env.iter().cloned())
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "fjord admin {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8(output.stdout)?;
        serde_json::from_str(text.trim()).with_context(|| format!("unexpected output {text}"))
    }

    /// The control plane's base URL (REST API under `/api/v1`).
    pub fn control_plane_url(&self) -> String {
        let listen = self
            .env
            .iter()
            .find(|(name, _)| name == "FJORD__CONTROL_PLANE__LISTEN")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        format!("http://{listen}")
    }

    /// The URL of this installation's own Postgres database, for tests that check rows.
    pub fn database_url(&self) -> String {
        self.env
            .iter()
            .find(|(name, _)| name == "FJORD__POSTGRES__URL")
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }

    /// An official SDK client for `tenant`, retries off so errors surface as they are.
    pub fn client(&self, tenant: &Tenant) -> aws_sdk_kinesis::Client {
        self.client_with_secret(&tenant.access_key_id, &tenant.secret_access_key)
    }

    /// An official Firehose SDK client for `tenant` on the same endpoint.
    pub fn firehose(&self, tenant: &Tenant) -> aws_sdk_firehose::Client {
        firehose_client(
            &self.endpoint,
            &tenant.access_key_id,
            &tenant.secret_access_key,
        )
    }

    pub fn client_with_secret(&self, access_key_id: &str, secret: &str) -> aws_sdk_kinesis::Client {
        sdk_client(&self.endpoint, access_key_id, secret)
    }

    /// Starts a second gateway alone (`fjord gateway`) on this installation, on a port of its
    /// own, and waits until it is healthy. It keeps running when this `Fjord` is killed.
    pub async fn start_gateway(&self) -> anyhow::Result<Gateway> {
        let port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path.with_extension(format!("gateway-{port}.log")))?;
        let child = Command::new(fjord_binary())
            .arg("gateway")
            .envs(self.env.iter().cloned())
            .env("FJORD__GATEWAY__LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", fjord_binary().display()))?;
        let gateway = Gateway {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client
                .get(format!("{}/health", gateway.endpoint))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(gateway);
            }
            if Instant::now() > deadline {
                bail!("the extra gateway did not become healthy in 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A raw request signed with SigV4 at `time`: status and body.
    pub async fn raw(
        &self,
        tenant: Option<&Tenant>,
        target: &str,
        body: &[u8],
        time: SystemTime,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        self.raw_with(reqwest::Client::new(), tenant, target, body, time)
            .await
            .map(|(status, _, value)| (status, value))
    }

    /// Like [`Fjord::raw`] with extra headers added after signing (e.g. `X-Forwarded-For`,
    /// as a proxy adds it).
    pub async fn raw_with_headers(
        &self,
        tenant: Option<&Tenant>,
        target: &str,
        body: &[u8],
        extra_headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        self.raw_inner(
            reqwest::Client::new(),
            tenant,
            target,
            body,
            SystemTime::now(),
            extra_headers,
        )
        .await
        .map(|(status, _, value)| (status, value))
    }

    /// Like [`Fjord::raw`] over cleartext HTTP/2 with prior knowledge (as the JavaScript v3
    /// SDK speaks it); also returns the HTTP version the answer came on.
    pub async fn raw_http2(
        &self,
        tenant: Option<&Tenant>,
        target: &str,
        body: &[u8],
    ) -> anyhow::Result<(u16, reqwest::Version, serde_json::Value)> {
        let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
        self.raw_with(client, tenant, target, body, SystemTime::now())
            .await
    }

    async fn raw_with(
        &self,
        client: reqwest::Client,
        tenant: Option<&Tenant>,
        target: &str,
        body: &[u8],
        time: SystemTime,
    ) -> anyhow::Result<(u16, reqwest::Version, serde_json::Value)> {
        self.raw_inner(client, tenant, target, body, time, &[])
            .await
    }

    async fn raw_inner(
        &self,
        client: reqwest::Client,
        tenant: Option<&Tenant>,
        target: &str,
        body: &[u8],
        time: SystemTime,
        extra_headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, reqwest::Version, serde_json::Value)> {
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-target".to_owned(), target.to_owned()),
            (
                "host".to_owned(),
                self.endpoint.trim_start_matches("http://").to_owned(),
            ),
        ];
        if let Some(tenant) = tenant {
            headers.extend(sign(tenant, &self.endpoint, &headers, body, time)?);
        }
        let mut request = client
            .post(format!("{}/", self.endpoint))
            .body(body.to_vec());
        for (name, value) in &headers {
            if name != "host" {
                request = request.header(name, value);
            }
        }
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let version = response.version();
        let bytes = response.bytes().await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, version, value))
    }

    /// Creates a provisioned stream and waits until it is `ACTIVE`.
    pub async fn create_active_stream(
        &self,
        client: &aws_sdk_kinesis::Client,
        name: &str,
        shard_count: i32,
    ) -> anyhow::Result<()> {
        client
            .create_stream()
            .stream_name(name)
            .shard_count(shard_count)
            .send()
            .await?;
        self.wait_active(client, name).await
    }

    /// Waits until the stream is `ACTIVE`.
    pub async fn wait_active(
        &self,
        client: &aws_sdk_kinesis::Client,
        name: &str,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let summary = client
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await?;
            if summary
                .stream_description_summary()
                .map(|summary| summary.stream_status().as_str() == "ACTIVE")
                .unwrap_or(false)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("stream {name} not ACTIVE after 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fjord {
    fn drop(&mut self) {
        self.kill9();
        // Leave nothing behind: the database, and this installation's JetStream streams and
        // config bucket. On a thread of its own, since a test's runtime cannot be blocked.
        let setting = |key: &str| {
            self.env
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let database_url = setting("FJORD__POSTGRES__URL");
        let prefix = setting("FJORD__NATS__PREFIX");
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(20), clean_up(&database_url, &prefix))
                        .await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Drops a test installation's database and deletes its NATS objects (best effort).
async fn clean_up(database_url: &str, prefix: &str) {
    if let Some((_, database)) = database_url.rsplit_once('/')
        && database.starts_with("fjord_e2e_")
        && let Ok(mut connection) = sqlx_connect(&postgres_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
    }
    if prefix.is_empty() {
        return;
    }
    let Ok(client) = async_nats::connect(nats_url()).await else {
        return;
    };
    let jetstream = async_nats::jetstream::new(client);
    let mut names = jetstream.stream_names();
    let mut doomed = Vec::new();
    use futures::StreamExt as _;
    while let Some(Ok(name)) = names.next().await {
        if name.starts_with(&format!("FJ_{prefix}_")) || name == format!("KV_fjord_{prefix}_config")
        {
            doomed.push(name);
        }
    }
    for name in doomed {
        let _ = jetstream.delete_stream(&name).await;
    }
}

fn sign(
    tenant: &Tenant,
    endpoint: &str,
    headers: &[(String, String)],
    body: &[u8],
    time: SystemTime,
) -> anyhow::Result<Vec<(String, String)>> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(
        &tenant.access_key_id,
        &tenant.secret_access_key,
        None,
        None,
        "e2e",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("kinesis")
        .time(time)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let url = format!("{endpoint}/");
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

async fn sqlx_connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to Postgres at {url}"))
}

fn replace_database(url: &str, database: &str) -> String {
    match url.rfind('/') {
        Some(index) if url[..index].contains("://") && !url[..index].ends_with('/') => {
            let query = url[index..]
                .find('?')
                .map(|q| &url[index + q..])
                .unwrap_or("");
            format!("{}/{database}{query}", &url[..index])
        }
        _ => format!("{}/{database}", url.trim_end_matches('/')),
    }
}

/// A unique stream name for a test.
pub fn stream_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The `__type` of an SDK service error.
pub fn error_type<E: aws_sdk_kinesis::error::ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or_default().to_owned()
}

/// Awaits an SDK call that must fail with the AWS error type `$kind`; yields the service error.
#[macro_export]
macro_rules! expect_error {
    ($call:expr, $kind:expr) => {{
        let error = $call.await.expect_err(concat!("expected ", $kind));
        let service_error = error.into_service_error();
        assert_eq!(
            $crate::error_type(&service_error),
            $kind,
            "{service_error:?}"
        );
        service_error
    }};
}

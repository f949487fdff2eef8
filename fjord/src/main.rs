//! The `fjord` binary: parses arguments, sets up logging, and hands over to the role crates.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use fjord_common::config::FjordConfig;
use fjord_common::shutdown::cancel_on_signal;
use fjord_control_plane::admin;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::store::quotas::{QuotaChange, TenantQuotas};
use fjord_control_plane::store::{Store, TenantId};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "fjord",
    version,
    about = "Self-hosted, Kinesis-compatible streaming"
)]
struct Cli {
    /// TOML configuration file (values from FJORD__SECTION__KEY variables override it).
    #[arg(long, global = true, env = "FJORD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every role in one process: control plane, gateway and delivery workers.
    Serve {
        /// Ensure a tenant with this name exists and print its endpoint and access key.
        #[arg(long)]
        demo_tenant: Option<String>,
    },
    /// The control plane alone (Postgres, reconciler, internal API).
    ControlPlane,
    /// The AWS-compatible gateway alone (never touches Postgres).
    Gateway,
    /// Delivery workers alone: drain delivery streams into their destinations (stateless,
    /// never touches Postgres; run any number).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator actions.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a tenant and print its account id and first access key. Quotas not given
    /// default to the control_plane.* settings.
    CreateTenant {
        name: String,
        #[command(flatten)]
        quotas: QuotaFlags,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Change a tenant's quotas (audited). Lowering one below current usage is allowed: what
    /// exists stays, new creates are refused. Throughput changes reach the gateways within a
    /// second or two, without a restart.
    SetQuotas {
        /// The tenant's name or 12-digit account id.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        quotas: QuotaFlags,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Create a user (printing a generated password once) or add a membership to an
    /// existing one.
    CreateUser {
        email: String,
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// owner, admin, developer or viewer.
        #[arg(long)]
        role: Role,
        /// Make the user a platform operator.
        #[arg(long)]
        operator: bool,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Create a tenant service-account access key with a role; the secret is printed once.
    CreateKey {
        /// The tenant's name.
        #[arg(long)]
        tenant: String,
        /// owner, admin, developer or viewer.
        #[arg(long, default_value_t = Role::Developer)]
        role: Role,
        /// What the key is for.
        #[arg(long, default_value = "created by fjord admin")]
        name: String,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Set a new generated password (printed once) and end the user's sessions.
    ResetPassword {
        email: String,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// After a master key rotation: seal every access-key secret under the current master
    /// key (opening it under security.previous_master_keys). Fails if any secret opens under
    /// none of them.
    ResealSecrets {
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

/// Tenant quotas an operator may set.
#[derive(Args)]
struct QuotaFlags {
    /// Streams of any mode.
    #[arg(long, value_parser = admin::parse_count)]
    streams: Option<u32>,
    /// Open shards across the tenant's streams.
    #[arg(long, alias = "shard-limit", value_parser = admin::parse_count)]
    shards: Option<u32>,
    /// On-demand streams.
    #[arg(long, value_parser = admin::parse_count)]
    on_demand_streams: Option<u32>,
    /// Delivery streams (Firehose).
    #[arg(long, value_parser = admin::parse_count)]
    delivery_streams: Option<u32>,
    /// Analytics apps.
    #[arg(long, value_parser = admin::parse_count)]
    apps: Option<u32>,
    /// Records per second per gateway process: a number, or `unlimited`.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_rate)]
    write_records_per_second: Option<Rate>,
    /// Bytes (partition keys plus data) per second per gateway process: a number, or
    /// `unlimited`.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_rate)]
    write_bytes_per_second: Option<Rate>,
}

/// A throughput quota from the command line; `None` is unlimited.
#[derive(Clone, Copy)]
struct Rate(Option<u64>);

fn parse_rate(text: &str) -> Result<Rate, String> {
    admin::parse_rate(text).map(Rate)
}

impl QuotaFlags {
    fn change(&self) -> QuotaChange {
        QuotaChange {
            streams: self.streams,
            shards: self.shards,
            on_demand_streams: self.on_demand_streams,
            delivery_streams: self.delivery_streams,
            apps: self.apps,
            write_records_per_second: self.write_records_per_second.map(|rate| rate.0),
            write_bytes_per_second: self.write_bytes_per_second.map(|rate| rate.0),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    fjord_common::telemetry::init();
    let config = FjordConfig::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

async fn run(command: Command, config: FjordConfig) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo_tenant } => serve(config, demo_tenant).await,
        Command::ControlPlane => {
            let cancel = CancellationToken::new();
            cancel_on_signal(cancel.clone());
            let console = console(&config);
            fjord_control_plane::run_with(config, cancel, console).await
        }
        Command::Gateway => {
            let cancel = CancellationToken::new();
            cancel_on_signal(cancel.clone());
            fjord_data_plane::run(config, cancel).await
        }
        Command::Worker => {
            let cancel = CancellationToken::new();
            cancel_on_signal(cancel.clone());
            fjord_data_plane::delivery::run_workers(config, cancel).await
        }
        Command::Migrate => {
            Store::connect(&config.postgres.url, 2).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command } => match command {
            AdminCommand::CreateTenant {
                name,
                quotas,
                output,
            } => {
                let master_key = config.master_key()?;
                let store = Store::connect(&config.postgres.url, 2).await?;
                let quotas =
                    TenantQuotas::from_config(&config.control_plane).with(&quotas.change());
                let tenant = admin::create_tenant(&store, &master_key, &name, &quotas).await?;
                admin::record_operator_action(
                    &store,
                    &[TenantId(tenant.tenant_id.parse()?)],
                    &admin::operator_name(),
                    "tenants:Create",
                    &tenant.name,
                    serde_json::json!({
                        "account_id": tenant.account_id,
                        "access_key_id": tenant.access_key.access_key_id,
                        "quotas": quotas,
                    }),
                )
                .await;
                let usable = admin::wait_until_usable(
                    &store,
                    &tenant.access_key.access_key_id,
                    std::time::Duration::from_secs(10),
                )
                .await?;
                if !usable {
                    eprintln!(
                        "note: no running control plane has published the key yet; it becomes usable once one does"
                    );
                }
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&tenant)?),
                    Output::Text => {
                        println!("tenant:            {} ({})", tenant.name, tenant.tenant_id);
                        println!("account id:        {}", tenant.account_id);
                        println!("access key id:     {}", tenant.access_key.access_key_id);
                        println!("secret access key: {}", tenant.access_key.secret_access_key);
                        println!("(the secret is shown once; store it now)");
                    }
                }
                Ok(())
            }
            AdminCommand::SetQuotas {
                tenant,
                quotas,
                output,
            } => {
                let store = Store::connect(&config.postgres.url, 2).await?;
                let change = quotas.change();
                let (tenant_id, report) = admin::set_quotas(&store, &tenant, change).await?;
                admin::record_operator_action(
                    &store,
                    &[tenant_id],
                    &admin::operator_name(),
                    "tenants:SetQuotas",
                    &report.tenant,
                    serde_json::json!({ "changed": change, "quotas": report.quotas }),
                )
                .await;
                let published = admin::wait_until_quotas_published(
                    &store,
                    tenant_id,
                    std::time::Duration::from_secs(10),
                )
                .await?;
                if !published {
                    eprintln!(
                        "note: no running control plane has published the quotas yet; gateways apply them once one does"
                    );
                }
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&report)?),
                    Output::Text => {
                        let rate = |value: Option<u64>| {
                            value.map_or("unlimited".to_owned(), |value| value.to_string())
                        };
                        let quotas = &report.quotas;
                        println!(
                            "tenant:                   {} (account {})",
                            report.tenant, report.account_id
                        );
                        println!("streams:                  {}", quotas.stream_limit);
                        println!("shards:                   {}", quotas.shard_limit);
                        println!(
                            "on-demand streams:        {}",
                            quotas.on_demand_stream_limit
                        );
                        println!("delivery streams:         {}", quotas.delivery_stream_limit);
                        println!("apps:                     {}", quotas.app_limit);
                        println!(
                            "write records per second: {}",
                            rate(quotas.write_records_per_second)
                        );
                        println!(
                            "write bytes per second:   {}",
                            rate(quotas.write_bytes_per_second)
                        );
                    }
                }
                Ok(())
            }
            AdminCommand::CreateUser {
                email,
                tenant,
                role,
                operator,
                output,
            } => {
                let store = Store::connect(&config.postgres.url, 2).await?;
                let user = admin::create_user(&store, &email, &tenant, role, operator).await?;
                if let Some(tenant) = store.tenant_by_name(&user.tenant).await? {
                    admin::record_operator_action(
                        &store,
                        &[TenantId(tenant.id)],
                        &admin::operator_name(),
                        "users:Create",
                        &user.email,
                        serde_json::json!({
                            "user_id": user.user_id,
                            "role": user.role,
                            "operator": user.is_operator,
                            "created": user.password.is_some(),
                        }),
                    )
                    .await;
                }
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&user)?),
                    Output::Text => {
                        println!("user:     {} ({})", user.email, user.user_id);
                        println!("tenant:   {} as {}", user.tenant, user.role);
                        if user.is_operator {
                            println!("operator: yes");
                        }
                        match &user.password {
                            Some(password) => {
                                println!("password: {password}");
                                println!("(the password is shown once; hand it over now)");
                            }
                            None => println!("(existing user: password unchanged)"),
                        }
                    }
                }
                Ok(())
            }
            AdminCommand::CreateKey {
                tenant,
                role,
                name,
                output,
            } => {
                let master_key = config.master_key()?;
                let store = Store::connect(&config.postgres.url, 2).await?;
                let key =
                    admin::create_tenant_key(&store, &master_key, &tenant, &name, role).await?;
                if let Some(tenant) = store.tenant_by_name(&key.tenant).await? {
                    admin::record_operator_action(
                        &store,
                        &[TenantId(tenant.id)],
                        &admin::operator_name(),
                        "keys:Create",
                        &key.access_key.access_key_id,
                        serde_json::json!({ "role": key.role, "name": name }),
                    )
                    .await;
                }
                let usable = admin::wait_until_usable(
                    &store,
                    &key.access_key.access_key_id,
                    std::time::Duration::from_secs(10),
                )
                .await?;
                if !usable {
                    eprintln!(
                        "note: no running control plane has published the key yet; it becomes usable once one does"
                    );
                }
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&key)?),
                    Output::Text => {
                        println!(
                            "tenant:            {} (account {})",
                            key.tenant, key.account_id
                        );
                        println!("role:              {}", key.role);
                        println!("access key id:     {}", key.access_key.access_key_id);
                        println!("secret access key: {}", key.access_key.secret_access_key);
                        println!("(the secret is shown once; store it now)");
                    }
                }
                Ok(())
            }
            AdminCommand::ResealSecrets { output } => {
                let master_key = config.master_key()?;
                let store = Store::connect(&config.postgres.url, 2).await?;
                let report = admin::reseal_secrets(&store, &master_key).await?;
                admin::record_operator_action(
                    &store,
                    &report.tenants,
                    &admin::operator_name(),
                    "keys:ResealSecrets",
                    "*",
                    serde_json::json!({
                        "resealed": report.resealed,
                        "keys": report.keys,
                        "buckets": report.buckets,
                        "buckets_resealed": report.buckets_resealed,
                        "endpoint_keys": report.endpoint_keys,
                        "endpoint_keys_resealed": report.endpoint_keys_resealed,
                    }),
                )
                .await;
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&report)?),
                    Output::Text => {
                        println!("access keys:       {}", report.keys);
                        println!("resealed:          {}", report.resealed);
                        println!("already current:   {}", report.already_current);
                        println!("changed meanwhile: {}", report.changed_meanwhile);
                        println!("buckets:           {}", report.buckets);
                        println!("buckets resealed:  {}", report.buckets_resealed);
                        println!("endpoint keys:     {}", report.endpoint_keys);
                        println!("endpoint resealed: {}", report.endpoint_keys_resealed);
                    }
                }
                if !report.unopenable.is_empty() {
                    anyhow::bail!(
                        "{} access key, bucket or endpoint secret(s) open under none of the configured master keys: {}; keep the previous master key configured until this is resolved",
                        report.unopenable.len(),
                        report.unopenable.join(", ")
                    );
                }
                Ok(())
            }
            AdminCommand::ResetPassword { email, output } => {
                let store = Store::connect(&config.postgres.url, 2).await?;
                let reset = admin::reset_password(&store, &email).await?;
                admin::record_operator_action(
                    &store,
                    &admin::tenants_of(&store, &reset.email).await?,
                    &admin::operator_name(),
                    "users:ResetPassword",
                    &reset.email,
                    serde_json::json!({ "user_id": reset.user_id, "sessions_revoked": true }),
                )
                .await;
                match output {
                    Output::Json => println!("{}", serde_json::to_string(&reset)?),
                    Output::Text => {
                        println!("user:     {} ({})", reset.email, reset.user_id);
                        println!("password: {}", reset.password);
                        println!("(shown once; the user's sessions were ended)");
                    }
                }
                Ok(())
            }
        },
    }
}

/// Mounts the web console next to the control plane's APIs (when `console.enabled`).
fn console(config: &FjordConfig) -> impl FnOnce(axum::Router) -> axum::Router + Send + use<> {
    let enabled = config.console.enabled;
    let options = fjord_web_ui::server::ConsoleOptions {
        site_root: config.console.site.clone().into(),
        secure_cookies: config.console.secure_cookies,
        kinesis_endpoint: config.public_kinesis_endpoint(),
        region: config.region.clone(),
    };
    move |api| {
        if !enabled {
            return api;
        }
        api.clone()
            .merge(fjord_web_ui::server::router(options, api))
    }
}

/// Where a browser on this machine opens the console.
fn console_url(config: &FjordConfig) -> String {
    if !config.console.enabled {
        return "disabled (console.enabled = false)".to_owned();
    }
    let port = config
        .control_plane
        .listen
        .rsplit(':')
        .next()
        .unwrap_or("4567");
    format!("http://localhost:{port}/")
}

/// The demo tenant's owner, created by `serve --demo-tenant`.
const DEMO_USER_EMAIL: &str = "owner@demo.fjord.local";

/// How long `serve` waits for the delivery workers to write what they buffered.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Control plane, gateway and delivery workers in one process; any failing stops all.
async fn serve(config: FjordConfig, demo_tenant: Option<String>) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    // Migrate before either role starts, so the gateway never waits on a half-made schema.
    let store = Store::connect(&config.postgres.url, 2).await?;
    let mut control_plane = tokio::spawn(fjord_control_plane::run_with(
        config.clone(),
        cancel.clone(),
        console(&config),
    ));
    let mut gateway = tokio::spawn(fjord_data_plane::run(config.clone(), cancel.clone()));
    let mut workers = if config.delivery.in_serve {
        tokio::spawn(fjord_data_plane::delivery::run_workers(
            config.clone(),
            cancel.clone(),
        ))
    } else {
        tracing::info!("delivery workers run elsewhere (delivery.in_serve = false)");
        let cancel = cancel.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            Ok(())
        })
    };
    if let Some(name) = demo_tenant {
        let tenant = admin::ensure_demo_tenant(
            &store,
            &config.master_key()?,
            &name,
            &TenantQuotas::from_config(&config.control_plane),
        )
        .await?;
        admin::wait_until_usable(
            &store,
            &tenant.access_key.access_key_id,
            std::time::Duration::from_secs(10),
        )
        .await?;
        let demo_user =
            admin::ensure_demo_user(&store, &config.master_key()?, &name, DEMO_USER_EMAIL).await?;
        let endpoint = format!("http://{}", config.gateway.listen);
        let api = format!("http://{}/api/v1", config.control_plane.listen);
        println!();
        println!("Fjord is running.");
        println!("  console:                 {}", console_url(&config));
        println!("  REST API:                {api}   (reference: {api}/reference)");
        match &demo_user.password {
            Some(password) => println!(
                "  sign in:                 {} / {password}",
                demo_user.email
            ),
            None => println!(
                "  sign in:                 {} (password changed since; `fjord admin reset-password {}` sets a new one)",
                demo_user.email, demo_user.email
            ),
        }
        println!("  AWS endpoint:            {endpoint}   (Kinesis and Firehose)");
        println!(
            "  delivered objects:       {}/{}/<bucket>/",
            config.delivery.local_root, tenant.account_id
        );
        println!("  region:                  {}", config.region);
        println!(
            "  tenant:                  {} (account {})",
            tenant.name, tenant.account_id
        );
        println!(
            "  access key id:           {}",
            tenant.access_key.access_key_id
        );
        println!(
            "  secret access key:       {}",
            tenant.access_key.secret_access_key
        );
        println!();
        println!("Try it:");
        println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={} \\",
            tenant.access_key.access_key_id, tenant.access_key.secret_access_key, config.region
        );
        println!(
            "    aws --endpoint-url {endpoint} kinesis create-stream --stream-name clicks --shard-count 4"
        );
        if let Some(password) = &demo_user.password {
            println!(
                "  curl -s {api}/auth/sign-in -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"{password}\"}}'",
                demo_user.email
            );
        }
        println!();
    }
    drop(store);
    let outcome = tokio::select! {
        result = &mut control_plane => ("control plane", result),
        result = &mut gateway => ("gateway", result),
        result = &mut workers => ("delivery workers", result),
    };
    cancel.cancel();
    // The workers write what they buffered before they stop.
    if !workers.is_finished() {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut workers).await;
    }
    match outcome {
        (_, Ok(Ok(()))) => Ok(()),
        (role, Ok(Err(error))) => Err(error.context(format!("{role} stopped"))),
        (role, Err(panic)) => Err(anyhow::anyhow!("{role} panicked: {panic}")),
    }
}

//! The `fjord` binary: parses arguments, sets up logging, and hands over to the role crates.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use fjord_common::config::FjordConfig;
use fjord_common::shutdown::cancel_on_signal;
use fjord_control_plane::admin;
use fjord_control_plane::auth::permissions::Role;
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
    /// Every role in one process: control plane and gateway.
    Serve {
        /// Ensure a tenant with this name exists and print its endpoint and access key.
        #[arg(long)]
        demo_tenant: Option<String>,
    },
    /// The control plane alone (Postgres, reconciler, internal API).
    ControlPlane,
    /// The AWS-compatible gateway alone (never touches Postgres).
    Gateway,
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
    /// Create a tenant and print its account id and first access key.
    CreateTenant {
        name: String,
        /// Shard quota (defaults to control_plane.shard_limit).
        #[arg(long)]
        shard_limit: Option<u32>,
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
            fjord_control_plane::run(config, cancel).await
        }
        Command::Gateway => {
            let cancel = CancellationToken::new();
            cancel_on_signal(cancel.clone());
            fjord_data_plane::run(config, cancel).await
        }
        Command::Migrate => {
            Store::connect(&config.postgres.url, 2).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command } => match command {
            AdminCommand::CreateTenant {
                name,
                shard_limit,
                output,
            } => {
                let master_key = config.master_key()?;
                let store = Store::connect(&config.postgres.url, 2).await?;
                let tenant = admin::create_tenant(
                    &store,
                    &master_key,
                    &name,
                    shard_limit.unwrap_or(config.control_plane.shard_limit),
                    config.control_plane.on_demand_stream_limit,
                )
                .await?;
                admin::record_operator_action(
                    &store,
                    &[TenantId(tenant.tenant_id.parse()?)],
                    &admin::operator_name(),
                    "tenants:Create",
                    &tenant.name,
                    serde_json::json!({
                        "account_id": tenant.account_id,
                        "access_key_id": tenant.access_key.access_key_id,
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

/// Control plane and gateway in one process; either failing stops both.
async fn serve(config: FjordConfig, demo_tenant: Option<String>) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    cancel_on_signal(cancel.clone());
    // Migrate before either role starts, so the gateway never waits on a half-made schema.
    let store = Store::connect(&config.postgres.url, 2).await?;
    let control_plane = tokio::spawn(fjord_control_plane::run(config.clone(), cancel.clone()));
    let gateway = tokio::spawn(fjord_data_plane::run(config.clone(), cancel.clone()));
    if let Some(name) = demo_tenant {
        let tenant = admin::ensure_demo_tenant(
            &store,
            &config.master_key()?,
            &name,
            config.control_plane.shard_limit,
            config.control_plane.on_demand_stream_limit,
        )
        .await?;
        admin::wait_until_usable(
            &store,
            &tenant.access_key.access_key_id,
            std::time::Duration::from_secs(10),
        )
        .await?;
        let endpoint = format!("http://{}", config.gateway.listen);
        println!();
        println!("Fjord is running.");
        println!("  AWS endpoint (Kinesis):  {endpoint}");
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
        println!();
    }
    drop(store);
    let outcome = tokio::select! {
        result = control_plane => ("control plane", result),
        result = gateway => ("gateway", result),
    };
    cancel.cancel();
    match outcome {
        (_, Ok(Ok(()))) => Ok(()),
        (role, Ok(Err(error))) => Err(error.context(format!("{role} stopped"))),
        (role, Err(panic)) => Err(anyhow::anyhow!("{role} panicked: {panic}")),
    }
}

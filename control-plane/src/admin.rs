//! Operator actions: creating tenants and their access keys (with roles), setting tenants'
//! quotas, users and their memberships, and operator-driven password resets.

use fjord_common::secret::{MasterKey, SecretBox, random_string};

use crate::auth::password;
use crate::auth::permissions::Role;
use crate::auth::{is_valid_email, normalize_email};
use crate::store::access_keys::NewAccessKeyRecord;
use crate::store::audit::{ActorType, AuditEntry};
use crate::store::quotas::{QuotaChange, TenantQuotas};
use crate::store::tenants::TenantRow;
use crate::store::users::UserId;
use crate::store::{Store, StoreError, TenantId};

/// A freshly created access key; the secret is shown once and never stored in the clear.
#[derive(Clone, serde::Serialize)]
pub struct NewAccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// A tenant with its first access key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewTenant {
    pub tenant_id: String,
    pub name: String,
    pub account_id: String,
    #[serde(flatten)]
    pub access_key: NewAccessKey,
}

/// Longest access key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 128;

const ACCESS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Creates a tenant with the given quotas and a first access key.
pub async fn create_tenant(
    store: &Store,
    master_key: &MasterKey,
    name: &str,
    quotas: &TenantQuotas,
) -> anyhow::Result<NewTenant> {
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        anyhow::bail!("a tenant name must be 1-128 printable characters");
    }
    let tenant: TenantRow = match store
        .create_tenant_with_quotas(name, quotas, || {
            random_string(b"0123456789", 12).unwrap_or_default()
        })
        .await
    {
        Ok(tenant) => tenant,
        Err(StoreError::AlreadyExists) => anyhow::bail!("a tenant named {name:?} already exists"),
        Err(error) => return Err(error.into()),
    };
    let access_key = create_access_key(
        store,
        master_key,
        TenantId(tenant.id),
        "first key",
        Role::Owner,
    )
    .await?;
    Ok(NewTenant {
        tenant_id: tenant.id.to_string(),
        name: tenant.name,
        account_id: tenant.account_id,
        access_key,
    })
}

/// A fresh access key id and secret, with the secret sealed for storage.
pub fn generate_credentials(secret_box: &SecretBox) -> anyhow::Result<(NewAccessKey, String)> {
    let access_key_id = format!("AKIA{}", random_string(ACCESS_KEY_ALPHABET, 16)?);
    let secret_access_key = generate_secret()?;
    let sealed = secret_box.seal(&secret_access_key, &access_key_id)?;
    Ok((
        NewAccessKey {
            access_key_id,
            secret_access_key,
        },
        sealed,
    ))
}

/// A fresh secret access key (40 characters, as AWS's).
pub fn generate_secret() -> anyhow::Result<String> {
    Ok(random_string(SECRET_ALPHABET, 40)?)
}

/// Creates a tenant service-account access key with `role`.
pub async fn create_access_key(
    store: &Store,
    master_key: &MasterKey,
    tenant_id: TenantId,
    name: &str,
    role: Role,
) -> anyhow::Result<NewAccessKey> {
    let (access_key, sealed_secret) = generate_credentials(&master_key.secret_box())?;
    store
        .create_access_key(
            tenant_id,
            NewAccessKeyRecord {
                access_key_id: access_key.access_key_id.clone(),
                sealed_secret,
                name: name.to_owned(),
                role,
                user_id: None,
            },
            None,
        )
        .await?;
    Ok(access_key)
}

/// An access key as `fjord admin create-key` reports it; the secret is shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewTenantKey {
    pub tenant: String,
    pub account_id: String,
    pub role: Role,
    #[serde(flatten)]
    pub access_key: NewAccessKey,
}

/// Creates a service-account access key with `role` in the tenant named `tenant_name`.
pub async fn create_tenant_key(
    store: &Store,
    master_key: &MasterKey,
    tenant_name: &str,
    name: &str,
    role: Role,
) -> anyhow::Result<NewTenantKey> {
    if name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
        anyhow::bail!("a key name must be at most {MAX_KEY_NAME_CHARS} printable characters");
    }
    let Some(tenant) = store.tenant_by_name(tenant_name).await? else {
        anyhow::bail!("no tenant is named {tenant_name:?}");
    };
    let access_key = create_access_key(store, master_key, TenantId(tenant.id), name, role).await?;
    Ok(NewTenantKey {
        tenant: tenant.name,
        account_id: tenant.account_id,
        role,
        access_key,
    })
}

/// The named tenant with its first enabled owner access key, created if missing. For the
/// development quick start, which prints a working key on every start.
pub async fn ensure_demo_tenant(
    store: &Store,
    master_key: &MasterKey,
    name: &str,
    quotas: &TenantQuotas,
) -> anyhow::Result<NewTenant> {
    let Some(tenant) = store.tenant_by_name(name).await? else {
        return create_tenant(store, master_key, name, quotas).await;
    };
    let tenant_id = TenantId(tenant.id);
    let access_key = match store.access_keys_of(tenant_id).await?.into_iter().next() {
        Some((access_key_id, sealed)) => NewAccessKey {
            secret_access_key: master_key.secret_box().open(&sealed, &access_key_id)?,
            access_key_id,
        },
        None => create_access_key(store, master_key, tenant_id, "demo key", Role::Owner).await?,
    };
    Ok(NewTenant {
        tenant_id: tenant.id.to_string(),
        name: tenant.name,
        account_id: tenant.account_id,
        access_key,
    })
}

/// The demo tenant's owner that `fjord serve --demo-tenant` prints a sign-in for.
#[derive(Clone)]
pub struct DemoUser {
    pub email: String,
    /// `None` when the user changed the password since (it is no longer the derived one).
    pub password: Option<String>,
}

/// Ensures the demo tenant has the owner `email`. Their first password is derived from the
/// master key (so it can be printed on every start without being stored anywhere); once they
/// change it, it is theirs and is not printed any more.
pub async fn ensure_demo_user(
    store: &Store,
    master_key: &MasterKey,
    tenant_name: &str,
    email: &str,
) -> anyhow::Result<DemoUser> {
    let derived = demo_password(master_key);
    let email = normalize_email(email);
    if let Some(user) = store.user_by_email(&email).await? {
        let unchanged = password::verify(&derived, &user.password_hash);
        return Ok(DemoUser {
            email,
            password: unchanged.then_some(derived),
        });
    }
    let Some(tenant) = store.tenant_by_name(tenant_name).await? else {
        anyhow::bail!("no tenant is named {tenant_name:?}");
    };
    let user = store
        .create_user(&email, &password::hash(&derived)?, false)
        .await?;
    store
        .put_membership(TenantId(tenant.id), UserId(user.id), Role::Owner)
        .await?;
    Ok(DemoUser {
        email,
        password: Some(derived),
    })
}

/// 20 characters from the demo-password key of the master key.
fn demo_password(master_key: &MasterKey) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    master_key
        .derive("demo-user-password")
        .iter()
        .take(20)
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect()
}

/// Waits (up to `timeout`) until the control plane has pushed the key to the data plane, so a
/// key printed to a user works at once. `false` if it did not happen in time (for example,
/// no control plane is running yet: the key becomes usable when one starts).
pub async fn wait_until_usable(
    store: &Store,
    access_key_id: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if store.access_key_published(access_key_id).await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A throughput quota as the operator gives it: a positive number, or `unlimited`.
pub fn parse_rate(text: &str) -> Result<Option<u64>, String> {
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 (or `unlimited`)".to_owned()),
        Ok(value) if value <= i64::MAX as u64 => Ok(Some(value)),
        _ => Err(format!(
            "{text:?} is neither a positive number nor `unlimited`"
        )),
    }
}

/// A count quota as the operator gives it: 0 to 2^31-1.
pub fn parse_count(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(value) if value <= i32::MAX as u32 => Ok(value),
        _ => Err(format!("{text:?} is not a number from 0 to {}", i32::MAX)),
    }
}

/// A tenant's quotas after `fjord admin set-quotas`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantQuotasReport {
    pub tenant: String,
    pub account_id: String,
    #[serde(flatten)]
    pub quotas: TenantQuotas,
}

/// Changes the quotas of the tenant named `tenant` (or with that account id). Lowering one
/// below current usage is allowed: what exists stays, new creates are refused.
pub async fn set_quotas(
    store: &Store,
    tenant: &str,
    change: QuotaChange,
) -> anyhow::Result<(TenantId, TenantQuotasReport)> {
    if change.is_empty() {
        anyhow::bail!("name at least one quota to set (see --help)");
    }
    let Some(row) = store.tenant_by_name_or_account(tenant).await? else {
        anyhow::bail!("no tenant is named {tenant:?} or has that account id");
    };
    let updated = store.set_quotas(TenantId(row.id), change).await?;
    Ok((
        TenantId(updated.id),
        TenantQuotasReport {
            quotas: updated.quotas(),
            tenant: updated.name,
            account_id: updated.account_id,
        },
    ))
}

/// Waits (up to `timeout`) until the tenant's current quotas are in the config bucket, where
/// the gateways pick them up within a second.
pub async fn wait_until_quotas_published(
    store: &Store,
    tenant_id: TenantId,
    timeout: std::time::Duration,
) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if store.tenant_published(tenant_id).await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A user as `fjord admin create-user` reports it; `password` is present only when the user
/// was created (shown once, never stored in the clear).
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewUser {
    pub user_id: String,
    pub email: String,
    pub tenant: String,
    pub role: Role,
    pub is_operator: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A generated password after an operator-driven reset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasswordReset {
    pub user_id: String,
    pub email: String,
    pub password: String,
}

/// Creates the user if needed (with a generated password) and gives them `role` in the
/// tenant named `tenant_name`. `operator` makes them a platform operator; it never takes
/// that away.
pub async fn create_user(
    store: &Store,
    email: &str,
    tenant_name: &str,
    role: Role,
    operator: bool,
) -> anyhow::Result<NewUser> {
    let email = normalize_email(email);
    if !is_valid_email(&email) {
        anyhow::bail!("{email:?} is not an email address");
    }
    let Some(tenant) = store.tenant_by_name(tenant_name).await? else {
        anyhow::bail!("no tenant is named {tenant_name:?}");
    };
    let (user, password) = match store.user_by_email(&email).await? {
        Some(user) => (user, None),
        None => {
            let password = password::generate()?;
            let hash = password::hash(&password)?;
            match store.create_user(&email, &hash, operator).await {
                Ok(user) => (user, Some(password)),
                Err(StoreError::AlreadyExists) => {
                    anyhow::bail!("{email:?} was created concurrently; try again")
                }
                Err(StoreError::Invalid) => {
                    anyhow::bail!("{email:?} is not an acceptable email address")
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    let user_id = UserId(user.id);
    if operator && !user.is_operator {
        store.set_operator(user_id, true).await?;
    }
    store
        .put_membership(TenantId(tenant.id), user_id, role)
        .await?;
    Ok(NewUser {
        user_id: user.id.to_string(),
        email: user.email,
        tenant: tenant.name,
        role,
        is_operator: operator || user.is_operator,
        password,
    })
}

/// Sets a freshly generated password and revokes every refresh token the user holds.
pub async fn reset_password(store: &Store, email: &str) -> anyhow::Result<PasswordReset> {
    let email = normalize_email(email);
    let Some(user) = store.user_by_email(&email).await? else {
        anyhow::bail!("no user has the email {email:?}");
    };
    let password = password::generate()?;
    let hash = password::hash(&password)?;
    store.reset_password(UserId(user.id), hash).await?;
    Ok(PasswordReset {
        user_id: user.id.to_string(),
        email: user.email,
        password,
    })
}

/// Who runs `fjord admin`, as the audit log names the operator: the OS user, else "unknown".
pub fn operator_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What `fjord admin reseal-secrets` did. Never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResealReport {
    /// Access keys looked at.
    pub keys: usize,
    /// Moved from a previous master key to the current one.
    pub resealed: usize,
    /// Already under the current master key.
    pub already_current: usize,
    /// Changed (rotated or deleted) while this ran; they are under the current key anyway.
    pub changed_meanwhile: usize,
    /// Registered buckets looked at, and those whose secrets were moved to the current key.
    pub buckets: usize,
    pub buckets_resealed: usize,
    /// Delivery streams with an HTTP endpoint access key looked at, and those moved.
    pub endpoint_keys: usize,
    pub endpoint_keys_resealed: usize,
    /// Keys (and buckets, as `bucket:<tenant id>/<name>`, and endpoint keys, as
    /// `delivery-stream:<tenant id>/<name>`) whose secret opens under none of the configured
    /// master keys.
    pub unopenable: Vec<String>,
    /// Tenants with resealed keys.
    #[serde(skip)]
    pub tenants: Vec<TenantId>,
}

/// Seals every access-key secret under the current master key, opening it under the current
/// or a previous one (`security.previous_master_keys`). Safe to repeat and to run while
/// Fjord serves: a key rotated meanwhile is left as its rotation sealed it.
pub async fn reseal_secrets(store: &Store, master_key: &MasterKey) -> anyhow::Result<ResealReport> {
    let secret_box = master_key.secret_box();
    let mut report = ResealReport::default();
    for key in store.sealed_access_keys().await? {
        report.keys += 1;
        let Ok(opened) = secret_box.open_reporting(&key.sealed_secret, &key.access_key_id) else {
            report.unopenable.push(key.access_key_id);
            continue;
        };
        if opened.under_current_key {
            report.already_current += 1;
            continue;
        }
        let resealed = secret_box.seal(&opened.plaintext, &key.access_key_id)?;
        if store.reseal_access_key(&key, resealed).await? {
            report.resealed += 1;
            if !report.tenants.contains(&key.tenant_id) {
                report.tenants.push(key.tenant_id);
            }
        } else {
            report.changed_meanwhile += 1;
        }
    }
    reseal_buckets(store, &secret_box, &mut report).await?;
    reseal_endpoint_keys(store, &secret_box, &mut report).await?;
    Ok(report)
}

/// The delivery stream half of [`reseal_secrets`]: HTTP endpoint access keys.
async fn reseal_endpoint_keys(
    store: &Store,
    secret_box: &fjord_common::secret::SecretBox,
    report: &mut ResealReport,
) -> anyhow::Result<()> {
    for (id, tenant_id, name, sealed) in store.sealed_endpoint_keys().await? {
        report.endpoint_keys += 1;
        let context = fjord_common::firehose::http_access_key_context(id);
        match secret_box.open_reporting(&sealed, &context) {
            Ok(opened) if opened.under_current_key => {}
            Ok(opened) => {
                let resealed = secret_box.seal(&opened.plaintext, &context)?;
                if store.reseal_endpoint_key(id, &sealed, resealed).await? {
                    report.endpoint_keys_resealed += 1;
                    if !report.tenants.contains(&tenant_id) {
                        report.tenants.push(tenant_id);
                    }
                }
            }
            Err(_) => report
                .unopenable
                .push(format!("delivery-stream:{}/{name}", tenant_id.0)),
        }
    }
    Ok(())
}

/// The bucket half of [`reseal_secrets`]: each registration's secrets, sealed for it.
async fn reseal_buckets(
    store: &Store,
    secret_box: &fjord_common::secret::SecretBox,
    report: &mut ResealReport,
) -> anyhow::Result<()> {
    for row in store.all_buckets().await? {
        report.buckets += 1;
        let Some(mut registered) = row.registered() else {
            continue;
        };
        let context = fjord_common::buckets::seal_context(row.id);
        let mut moved = false;
        let mut unopenable = false;
        for sealed in registered.location.sealed_secrets_mut() {
            match secret_box.open_reporting(sealed, &context) {
                Ok(opened) if opened.under_current_key => {}
                Ok(opened) => {
                    *sealed = secret_box.seal(&opened.plaintext, &context)?;
                    moved = true;
                }
                Err(_) => unopenable = true,
            }
        }
        if unopenable {
            report
                .unopenable
                .push(format!("bucket:{}/{}", row.tenant_id, row.name));
        } else if moved && store.reseal_bucket(&row, &registered.location).await? {
            report.buckets_resealed += 1;
            let tenant_id = TenantId(row.tenant_id);
            if !report.tenants.contains(&tenant_id) {
                report.tenants.push(tenant_id);
            }
        }
    }
    Ok(())
}

/// Records an operator action in the audit log of each of `tenant_ids` (best effort: a
/// failure is logged, never returned). `details` must hold no secret.
pub async fn record_operator_action(
    store: &Store,
    tenant_ids: &[TenantId],
    operator: &str,
    action: &str,
    resource: &str,
    details: serde_json::Value,
) {
    for tenant_id in tenant_ids {
        let entry = AuditEntry::new(ActorType::Operator, operator, action, resource)
            .with_details(details.clone());
        store.record_audit(*tenant_id, entry).await;
    }
}

/// The tenants the user with `email` belongs to (none if there is no such user).
pub async fn tenants_of(store: &Store, email: &str) -> anyhow::Result<Vec<TenantId>> {
    let Some(user) = store.user_by_email(&normalize_email(email)).await? else {
        return Ok(Vec::new());
    };
    Ok(store
        .memberships_of(UserId(user.id))
        .await?
        .into_iter()
        .map(|membership| membership.tenant_id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_quota_values_are_parsed_strictly() {
        assert_eq!(parse_rate("unlimited"), Ok(None));
        assert_eq!(parse_rate("UNLIMITED"), Ok(None));
        assert_eq!(parse_rate("50"), Ok(Some(50)));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("lots").is_err());
        assert!(
            parse_rate("18446744073709551615").is_err(),
            "above i64::MAX"
        );
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("2147483647"), Ok(i32::MAX as u32));
        assert!(parse_count("2147483648").is_err());
        assert!(parse_count("-3").is_err());
    }
}

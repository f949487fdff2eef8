//! Roles and the one permission check.
//!
//! Every authorization decision in the control plane goes through [`allows`]; handlers name
//! the [`Action`] they perform and never compare roles themselves.

use serde::{Deserialize, Serialize};

/// A member's role in a tenant, from least to most privileged.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Developer, Role::Admin, Role::Owner];

    /// The name stored in Postgres and carried in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected owner, admin, developer or viewer)")]
pub struct UnknownRole;

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or(UnknownRole)
    }
}

/// Something a member can do in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadStreams,
    ReadRecords,
    WriteRecords,
    ManageStreams,
    ManageKeys,
    ManageUsers,
    ReadAudit,
    ManageTenant,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::ReadStreams,
        Action::ReadRecords,
        Action::WriteRecords,
        Action::ManageStreams,
        Action::ManageKeys,
        Action::ManageUsers,
        Action::ReadAudit,
        Action::ManageTenant,
    ];
}

/// Whether `role` may perform `action`: viewers read streams and records; developers also
/// write records and manage streams; admins also manage keys and users and read the audit
/// log; owners also manage the tenant.
pub fn allows(role: Role, action: Action) -> bool {
    let least_role = match action {
        Action::ReadStreams | Action::ReadRecords => Role::Viewer,
        Action::WriteRecords | Action::ManageStreams => Role::Developer,
        Action::ManageKeys | Action::ManageUsers | Action::ReadAudit => Role::Admin,
        Action::ManageTenant => Role::Owner,
    };
    role >= least_role
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_matrix() {
        use Action::*;
        let expected: [(Role, &[Action]); 4] = [
            (Role::Viewer, &[ReadStreams, ReadRecords]),
            (
                Role::Developer,
                &[ReadStreams, ReadRecords, WriteRecords, ManageStreams],
            ),
            (
                Role::Admin,
                &[
                    ReadStreams,
                    ReadRecords,
                    WriteRecords,
                    ManageStreams,
                    ManageKeys,
                    ManageUsers,
                    ReadAudit,
                ],
            ),
            (Role::Owner, &Action::ALL),
        ];
        for (role, allowed) in expected {
            for action in Action::ALL {
                assert_eq!(
                    allows(role, action),
                    allowed.contains(&action),
                    "{role} {action:?}"
                );
            }
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!("Owner".parse::<Role>(), Err(UnknownRole));
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
    }
}

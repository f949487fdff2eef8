//! The rules of membership changes: who may grant which role, change or remove whom, and the
//! tenant's last owner.
//!
//! Pure functions over roles, so that the store can apply them inside the transaction that
//! holds the tenant's membership lock (the numbers they see are the committed ones) and the
//! rules are unit-tested on their own. They never look at the database or the wire.

use crate::auth::permissions::{Action, Role, allows};

/// Why a membership change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's role does not allow managing users.
    NotAllowed,
    /// The role to grant is above the caller's own (only an owner grants owner).
    AboveOwnRole,
    /// The member is an owner and the caller is not.
    TargetIsOwner,
    /// The tenant would be left without an owner.
    LastOwner,
}

impl Refusal {
    /// What the caller is told.
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "your role does not allow this action",
            Refusal::AboveOwnRole => "you cannot grant a role above your own",
            Refusal::TargetIsOwner => "only an owner may change or remove an owner",
            Refusal::LastOwner => "the tenant must keep at least one owner",
        }
    }
}

/// Whether `caller` may give a new member (an invitation) `role`.
pub fn may_invite(caller: Role, role: Role) -> Result<(), Refusal> {
    if !allows(caller, Action::ManageUsers) {
        return Err(Refusal::NotAllowed);
    }
    if role > caller {
        return Err(Refusal::AboveOwnRole);
    }
    Ok(())
}

/// Whether `caller` may change a member from `current` to `new`, when the tenant has
/// `owners` owners now.
pub fn may_change_role(caller: Role, current: Role, new: Role, owners: i64) -> Result<(), Refusal> {
    if !allows(caller, Action::ManageUsers) {
        return Err(Refusal::NotAllowed);
    }
    if current == Role::Owner && caller != Role::Owner {
        return Err(Refusal::TargetIsOwner);
    }
    if new > caller {
        return Err(Refusal::AboveOwnRole);
    }
    if current == Role::Owner && new != Role::Owner && owners <= 1 {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// Whether `caller` may remove a member whose role is `current`; `is_self` when a member
/// leaves (allowed for every role but the last owner).
pub fn may_remove(caller: Role, current: Role, is_self: bool, owners: i64) -> Result<(), Refusal> {
    if !is_self {
        if !allows(caller, Action::ManageUsers) {
            return Err(Refusal::NotAllowed);
        }
        if current == Role::Owner && caller != Role::Owner {
            return Err(Refusal::TargetIsOwner);
        }
    }
    if current == Role::Owner && owners <= 1 {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Admin, Developer, Owner, Viewer};

    #[test]
    fn only_admins_and_owners_invite_and_never_above_themselves() {
        assert_eq!(may_invite(Owner, Owner), Ok(()));
        assert_eq!(may_invite(Admin, Admin), Ok(()));
        assert_eq!(may_invite(Admin, Viewer), Ok(()));
        assert_eq!(may_invite(Admin, Owner), Err(Refusal::AboveOwnRole));
        for caller in [Developer, Viewer] {
            assert_eq!(may_invite(caller, Viewer), Err(Refusal::NotAllowed));
        }
    }

    #[test]
    fn role_changes() {
        assert_eq!(may_change_role(Owner, Developer, Owner, 1), Ok(()));
        assert_eq!(may_change_role(Owner, Owner, Admin, 2), Ok(()));
        assert_eq!(
            may_change_role(Owner, Owner, Admin, 1),
            Err(Refusal::LastOwner)
        );
        assert_eq!(may_change_role(Owner, Owner, Owner, 1), Ok(()));
        assert_eq!(may_change_role(Admin, Viewer, Admin, 1), Ok(()));
        assert_eq!(may_change_role(Admin, Admin, Viewer, 1), Ok(()));
        assert_eq!(
            may_change_role(Admin, Viewer, Owner, 1),
            Err(Refusal::AboveOwnRole)
        );
        assert_eq!(
            may_change_role(Admin, Owner, Viewer, 3),
            Err(Refusal::TargetIsOwner)
        );
        assert_eq!(
            may_change_role(Developer, Viewer, Viewer, 1),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn removals_and_leaving() {
        assert_eq!(may_remove(Owner, Owner, false, 2), Ok(()));
        assert_eq!(may_remove(Owner, Owner, false, 1), Err(Refusal::LastOwner));
        assert_eq!(may_remove(Owner, Owner, true, 1), Err(Refusal::LastOwner));
        assert_eq!(may_remove(Owner, Owner, true, 2), Ok(()));
        assert_eq!(may_remove(Admin, Admin, false, 1), Ok(()));
        assert_eq!(
            may_remove(Admin, Owner, false, 2),
            Err(Refusal::TargetIsOwner)
        );
        assert_eq!(
            may_remove(Developer, Viewer, false, 1),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(may_remove(Viewer, Viewer, true, 1), Ok(()));
    }
}

//! Who may do what: members and their roles, invitations. Admins only; the REST API refuses
//! anyone else, and the page says so instead of offering forms that would fail.

use leptos::prelude::*;
use leptos_meta::Title;

use super::use_flash;
use crate::api::{Me, Member, Role};
use crate::components::{Empty, ErrorNote, Loading, SecretBox, action_error, admin_only};
use crate::model::format;
use crate::server_fns::users::{
    ChangeRole, InvitationLink, Invite, RemoveMember, RevokeInvitation, list_invitations,
    list_members,
};

#[component]
pub fn UsersPage() -> impl IntoView {
    let invite = ServerAction::<Invite>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let change = ServerAction::<ChangeRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || (change.version().get(), remove.version().get()),
        |_| list_members(None),
    );
    let invitations = Resource::new(
        move || (invite.version().get(), revoke.version().get()),
        |_| list_invitations(),
    );
    let flashed = use_flash::<InvitationLink>("invite");
    let invited = move || invite.value().get().and_then(Result::ok).or_else(flashed);
    let manage = move |me: Me| {
        let grantable: Vec<Role> = Role::ALL.into_iter().filter(|r| *r <= me.role).collect();
        let grantable_invite = grantable.clone();
        let my_id = me.user.id.clone();
        view! {
        <section aria-labelledby="members">
            <h2 id="members">"Members"</h2>
            {move || action_error(change.value().get())}
            {move || action_error(remove.value().get())}
            <Transition fallback=|| view! { <Loading /> }>
                {move || {
                    let grantable = grantable.clone();
                    let my_id = my_id.clone();
                    Suspend::new(async move {
                        match members.await {
                            Err(error) => view! { <ErrorNote error /> }.into_any(),
                            Ok(page) => view! {
                                <div class="table-wrap">
                                    <table>
                                        <thead><tr>
                                            <th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th>
                                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                        </tr></thead>
                                        <tbody>
                                            {page.items.into_iter().map(|member| view! {
                                                <MemberRow member=member.clone() grantable=grantable.clone() is_me=member.user_id == my_id change remove />
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
        <section aria-labelledby="invite">
            <h2 id="invite">"Invite someone"</h2>
            <ActionForm action=invite attr:class="toolbar">
                <label>"Email" <input type="email" name="email" required /></label>
                <label>"Role"
                    <select name="role">
                        {grantable_invite.into_iter().map(|role| view! { <option value=role.as_str() selected=role == Role::Developer>{role.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit" disabled=move || invite.pending().get()>"Invite"</button>
            </ActionForm>
            {move || action_error(invite.value().get())}
            {move || invited().map(|InvitationLink { invitation, link }| view! {
                <div class="callout" role="status">
                    <p>"Invitation for " <strong>{invitation.email.clone()}</strong> {format!(" as {}, valid 7 days. Send them this link; it is shown only once.", invitation.role.as_str())}</p>
                    <SecretBox label="Invitation link" value=link />
                </div>
            })}
            <Transition fallback=|| view! { <Loading /> }>
                {move || Suspend::new(async move {
                    match invitations.await {
                        Err(error) => view! { <ErrorNote error /> }.into_any(),
                        Ok(page) if page.items.is_empty() => view! { <Empty><p>"No invitations."</p></Empty> }.into_any(),
                        Ok(page) => view! {
                            <div class="table-wrap"><table>
                                <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|invitation| view! {
                                        <tr>
                                            <th scope="row">{invitation.email.clone()}</th>
                                            <td>{invitation.role.as_str()}</td>
                                            <td>{invitation.status.clone()}</td>
                                            <td>{format::timestamp(&invitation.expires_at)}</td>
                                            <td>{(invitation.status == "pending").then(|| view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="id" value=invitation.id.clone() />
                                                    <button type="submit" class="secondary small">"Revoke"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        }
        .into_any()
    };
    view! {
        <Title text="Users and roles · Fjord" />
        <h1>"Users and roles"</h1>
        {admin_only("Managing users", manage)}
    }
}

#[component]
fn MemberRow(
    member: Member,
    grantable: Vec<Role>,
    is_me: bool,
    change: ServerAction<ChangeRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let current = member.role;
    let (change_id, remove_id) = (member.user_id.clone(), member.user_id.clone());
    let role_label = format!("Role of {}", member.email);
    let remove_text = format!("Remove {}", member.email);
    view! {
        <tr data-member=member.email.clone()>
            <th scope="row">{if is_me { format!("{} (you)", member.email) } else { member.email.clone() }}</th>
            <td>
                <ActionForm action=change attr:class="inline">
                    <input type="hidden" name="user_id" value=change_id />
                    <label class="inline"><span class="visually-hidden">{role_label}</span>
                        <select name="role">
                            {grantable.iter().map(|role| view! { <option value=role.as_str() selected=*role == current>{role.as_str()}</option> }).collect_view()}
                            {(!grantable.contains(&current)).then(|| view! { <option value=current.as_str() selected>{current.as_str()}</option> })}
                        </select>
                    </label>
                    <button type="submit" class="secondary small">"Change"</button>
                </ActionForm>
            </td>
            <td>{format::timestamp(&member.joined_at)}</td>
            <td>
                <details class="confirm">
                    <summary class="button danger small">{if is_me { "Leave" } else { "Remove" }}</summary>
                    <ActionForm action=remove>
                        <input type="hidden" name="user_id" value=remove_id />
                        <p>"Their sessions end and their personal keys are deleted."</p>
                        <button type="submit" class="danger small">{remove_text}</button>
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}

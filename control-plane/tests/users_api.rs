//! User management over REST, driven with `oneshot` on a real Postgres (a fresh database per
//! test): members, role changes, removals, invitations and their acceptance; each role's
//! allowed and forbidden calls; the last owner (also under concurrent demotions); what a
//! removal ends; pagination, idempotency, the audit trail and bad input.

#[path = "support/rest.rs"]
mod rest;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use fjord_control_plane::api::{self, ApiState};
use fjord_control_plane::auth::password;
use fjord_control_plane::auth::permissions::Role;
use fjord_control_plane::auth::rate_limit::RateLimitPolicy;
use fjord_control_plane::auth::session::SessionKeys;
use fjord_control_plane::store::access_keys::NewAccessKeyRecord;
use fjord_control_plane::store::users::UserId;
use fjord_control_plane::store::{Store, TenantId};
use rest::{Answer, assert_problem};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const SESSION_KEY: [u8; 32] = [5; 32];
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

struct TestApp {
    router: axum::Router,
    store: Store,
    pool: PgPool,
    acme: TenantId,
    globex: TenantId,
}

/// A member made for a test: their user id, email and a bearer token.
#[derive(Debug, Clone)]
struct Member {
    id: Uuid,
    email: String,
    token: String,
}

impl TestApp {
    async fn new(pool: PgPool) -> Self {
        Self::with_policy(pool, RateLimitPolicy::default()).await
    }

    async fn with_policy(pool: PgPool, policy: RateLimitPolicy) -> Self {
        let store = Store::from_pool(pool.clone());
        let state = ApiState::new(store.clone(), SessionKeys::new(SESSION_KEY), policy).unwrap();
        let acme = store
            .create_tenant("acme", 10, 1, || "123456789012".to_owned())
            .await
            .unwrap();
        let globex = store
            .create_tenant("globex", 10, 1, || "210987654321".to_owned())
            .await
            .unwrap();
        Self {
            router: api::router(state),
            store,
            pool,
            acme: TenantId(acme.id),
            globex: TenantId(globex.id),
        }
    }

    /// A new member of `tenant` with `role` (an unusable password: they use bearer tokens).
    async fn member(&self, tenant: TenantId, role: Role) -> Member {
        let email = format!("{}@example.com", Uuid::now_v7());
        let user = self
            .store
            .create_user(&email, "$argon2id$unused", false)
            .await
            .unwrap();
        self.store
            .put_membership(tenant, UserId(user.id), role)
            .await
            .unwrap();
        Member {
            id: user.id,
            email,
            token: self.token_of(user.id, tenant, role),
        }
    }

    fn token_of(&self, user_id: Uuid, tenant: TenantId, role: Role) -> String {
        SessionKeys::new(SESSION_KEY)
            .issue(UserId(user_id), tenant, role, 0, Utc::now())
            .unwrap()
            .token
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        rest::send(&self.router, request).await
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.raw(
            token,
            method,
            path,
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    async fn raw(&self, token: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        rest::raw(&self.router, token, method, path, body).await
    }

    /// An unauthenticated POST from `address`.
    async fn post_from(&self, path: &str, body: Value, address: &str) -> Answer {
        let mut request = Request::post(format!("/api/v1{path}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let address: SocketAddr = address.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(address));
        self.send(request).await
    }

    async fn invite(&self, token: &str, email: &str, role: &str) -> Answer {
        self.call(
            token,
            "POST",
            "/invitations",
            Some(json!({"email": email, "role": role})),
        )
        .await
    }

    /// Invites `email` as `role` (as `token`); the invitation's id and token.
    async fn invitation(&self, token: &str, email: &str, role: &str) -> (String, String) {
        let answer = self.invite(token, email, role).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        (
            answer.body["id"].as_str().unwrap().to_owned(),
            answer.body["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn accept(&self, token: &str, password: &str) -> Answer {
        self.post_from(
            "/auth/accept-invitation",
            json!({"token": token, "password": password}),
            "127.0.0.1:5000",
        )
        .await
    }

    async fn role_of(&self, tenant: TenantId, user_id: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    async fn count(&self, query: &str) -> i64 {
        sqlx::query_scalar(query)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The audit entries of `tenant` whose action starts with `users:`, oldest first:
    /// (action, resource, outcome, error code, details).
    async fn user_audit(
        &self,
        tenant: TenantId,
    ) -> Vec<(String, String, String, Option<String>, Value)> {
        sqlx::query_as::<_, (String, String, String, Option<String>, Value)>(
            "SELECT action, resource, outcome, error_code, details FROM audit_log
             WHERE tenant_id = $1 AND action LIKE 'users:%' ORDER BY occurred_at, id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn invite_accept_list_and_sign_in(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;

    let created = app
        .invite(&owner.token, "Grace@Example.com", "developer")
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(created.body["email"], "grace@example.com");
    assert_eq!(created.body["role"], "developer");
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["invited_by"], owner.id.to_string());
    assert_eq!(
        created.body["accept_path"],
        format!("/accept-invitation#token={token}")
    );
    // Only the token's hash is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM invitations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM invitations WHERE token_hash = '{token}'::bytea"
        ))
        .await,
        0
    );

    let pending = app.call(&owner.token, "GET", "/invitations", None).await;
    assert_eq!(pending.status, StatusCode::OK, "{}", pending.body);
    let items = pending.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["email"], "grace@example.com");
    assert!(items[0].get("token").is_none(), "{}", pending.body);

    let accepted = app.accept(&token, NEW_PASSWORD).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["role"], "developer");
    assert_eq!(accepted.body["tenant"]["name"], "acme");
    assert_eq!(accepted.body["token_type"], "Bearer");
    let access = accepted.body["access_token"].as_str().unwrap().to_owned();
    let me = app.call(&access, "GET", "/me", None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["user"]["email"], "grace@example.com");
    // The password chosen is the account's password now (hashed with argon2id).
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'grace@example.com'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(password::verify(NEW_PASSWORD, &hash));
    assert!(hash.starts_with("$argon2id$"));
    let sign_in = app
        .post_from(
            "/auth/sign-in",
            json!({"email": "grace@example.com", "password": NEW_PASSWORD}),
            "127.0.0.1:5000",
        )
        .await;
    assert_eq!(sign_in.status, StatusCode::OK, "{}", sign_in.body);

    let members = app.call(&owner.token, "GET", "/users", None).await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
    let emails: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [owner.email.as_str(), "grace@example.com"]);
    assert_eq!(members.body["items"][1]["role"], "developer");
    assert!(members.body["items"][1]["joined_at"].as_str().is_some());
    assert_eq!(members.body["next_cursor"], Value::Null);

    // Accepted: no longer listed, and the token is spent.
    let pending = app.call(&owner.token, "GET", "/invitations", None).await;
    assert_eq!(pending.body["items"], json!([]));
    let again = app.accept(&token, NEW_PASSWORD).await;
    assert_problem(&again, StatusCode::BAD_REQUEST);
    assert_eq!(again.body["type"], "urn:fjord:problem:invalid-invitation");

    // Audited, without the token or the password.
    let audit = app.user_audit(app.acme).await;
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|(action, resource, outcome, _, _)| {
            (action.as_str(), resource.as_str(), outcome.as_str())
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("users:Invite", "grace@example.com", "success"),
            ("users:AcceptInvitation", "grace@example.com", "success"),
        ]
    );
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!everything.contains(&token));
    assert!(!everything.contains(NEW_PASSWORD));
}

#[sqlx::test(migrations = "../migrations")]
async fn existing_users_accept_with_their_current_password_only(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let ada = app
        .store
        .create_user("ada@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    app.store
        .put_membership(app.globex, UserId(ada.id), Role::Owner)
        .await
        .unwrap();
    let (_, token) = app
        .invitation(&owner.token, "ada@example.com", "viewer")
        .await;

    // The token alone cannot take the account over.
    let wrong = app.accept(&token, NEW_PASSWORD).await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(app.role_of(app.acme, ada.id).await, None);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(ada.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        password::verify(PASSWORD, &hash),
        "the password is unchanged"
    );

    let accepted = app.accept(&token, PASSWORD).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["tenant"]["name"], "acme");
    assert_eq!(accepted.body["role"], "viewer");
    assert_eq!(accepted.body["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.role_of(app.acme, ada.id).await.as_deref(),
        Some("viewer")
    );
    assert_eq!(
        app.role_of(app.globex, ada.id).await.as_deref(),
        Some("owner")
    );
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2);

    let audit = app.user_audit(app.acme).await;
    let outcomes: Vec<(&str, &str, Option<&str>)> = audit
        .iter()
        .map(|(action, _, outcome, code, _)| (action.as_str(), outcome.as_str(), code.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("users:Invite", "success", None),
            (
                "users:AcceptInvitation",
                "failure",
                Some("invalid-credentials")
            ),
            ("users:AcceptInvitation", "success", None),
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn expired_revoked_used_and_unknown_tokens_look_the_same(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let (_, expired) = app
        .invitation(&owner.token, "old@example.com", "viewer")
        .await;
    sqlx::query("UPDATE invitations SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (revoked_id, revoked) = app
        .invitation(&owner.token, "gone@example.com", "viewer")
        .await;
    let revoke = app
        .call(
            &owner.token,
            "DELETE",
            &format!("/invitations/{revoked_id}"),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT, "{}", revoke.body);
    let again = app
        .call(
            &owner.token,
            "DELETE",
            &format!("/invitations/{revoked_id}"),
            None,
        )
        .await;
    assert_problem(&again, StatusCode::NOT_FOUND);
    let (_, used) = app
        .invitation(&owner.token, "used@example.com", "viewer")
        .await;
    assert_eq!(app.accept(&used, NEW_PASSWORD).await.status, StatusCode::OK);
    // Inviting an email again revokes its earlier token.
    let (_, replaced) = app
        .invitation(&owner.token, "twice@example.com", "viewer")
        .await;
    let (_, current) = app
        .invitation(&owner.token, "twice@example.com", "admin")
        .await;

    let mut bodies = Vec::new();
    for token in [
        expired.as_str(),
        revoked.as_str(),
        used.as_str(),
        replaced.as_str(),
        "no-such-token",
        &"x".repeat(10_000),
    ] {
        let answer = app.accept(token, NEW_PASSWORD).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        bodies.push(answer.body);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );
    assert_eq!(
        bodies[0]["detail"],
        "the invitation is invalid, expired or already used"
    );
    // Only the used one made a user; the expired invitation is still listed (as expired).
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2);
    let listed = app.call(&owner.token, "GET", "/invitations", None).await;
    let states: Vec<(&str, &str)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["email"].as_str().unwrap(),
                item["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("old@example.com", "expired"),
            ("twice@example.com", "pending")
        ]
    );
    let accepted = app.accept(&current, NEW_PASSWORD).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["role"], "admin");
}

#[sqlx::test(migrations = "../migrations")]
async fn each_role_may_do_what_the_matrix_says(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let admin = app.member(app.acme, Role::Admin).await;
    let target = app.member(app.acme, Role::Developer).await;

    for role in [Role::Viewer, Role::Developer] {
        let member = app.member(app.acme, role).await;
        for (method, path, body) in [
            ("GET", "/users".to_owned(), None),
            ("GET", "/invitations".to_owned(), None),
            (
                "POST",
                "/invitations".to_owned(),
                Some(json!({"email": "x@example.com", "role": "viewer"})),
            ),
            (
                "PATCH",
                format!("/users/{}", target.id),
                Some(json!({"role": "viewer"})),
            ),
            ("DELETE", format!("/users/{}", target.id), None),
        ] {
            let answer = app.call(&member.token, method, &path, body).await;
            assert_problem(&answer, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(
        app.role_of(app.acme, target.id).await.as_deref(),
        Some("developer")
    );
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0);

    // An admin manages members up to admin, never owners.
    assert_eq!(
        app.call(&admin.token, "GET", "/users", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.invite(&admin.token, "a@example.com", "admin")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_problem(
        &app.invite(&admin.token, "o@example.com", "owner").await,
        StatusCode::FORBIDDEN,
    );
    let escalate = app
        .call(
            &admin.token,
            "PATCH",
            &format!("/users/{}", target.id),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_problem(&escalate, StatusCode::FORBIDDEN);
    let self_escalate = app
        .call(
            &admin.token,
            "PATCH",
            &format!("/users/{}", admin.id),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_problem(&self_escalate, StatusCode::FORBIDDEN);
    for (method, body) in [("PATCH", Some(json!({"role": "viewer"}))), ("DELETE", None)] {
        let answer = app
            .call(&admin.token, method, &format!("/users/{}", owner.id), body)
            .await;
        assert_problem(&answer, StatusCode::FORBIDDEN);
        assert_eq!(
            answer.body["detail"],
            "only an owner may change or remove an owner"
        );
    }
    assert_eq!(
        app.role_of(app.acme, owner.id).await.as_deref(),
        Some("owner")
    );
    let promote = app
        .call(
            &admin.token,
            "PATCH",
            &format!("/users/{}", target.id),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promote.status, StatusCode::OK, "{}", promote.body);
    assert_eq!(promote.body["role"], "admin");
    assert_eq!(promote.body["email"], target.email);

    // The new role applies on the target's next request (their token still says developer).
    assert_eq!(
        app.call(&target.token, "GET", "/users", None).await.status,
        StatusCode::OK
    );
    let demote = app
        .call(
            &owner.token,
            "PATCH",
            &format!("/users/{}", target.id),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.body);
    assert_problem(
        &app.call(&target.token, "GET", "/users", None).await,
        StatusCode::FORBIDDEN,
    );

    // An owner grants owner and removes an admin.
    let crown = app
        .call(
            &owner.token,
            "PATCH",
            &format!("/users/{}", target.id),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(crown.status, StatusCode::OK, "{}", crown.body);
    assert_eq!(
        app.invite(&owner.token, "o@example.com", "owner")
            .await
            .status,
        StatusCode::CREATED
    );
    let remove = app
        .call(
            &owner.token,
            "DELETE",
            &format!("/users/{}", admin.id),
            None,
        )
        .await;
    assert_eq!(remove.status, StatusCode::NO_CONTENT, "{}", remove.body);
    assert_eq!(app.role_of(app.acme, admin.id).await, None);

    let audit = app.user_audit(app.acme).await;
    let escalation = audit
        .iter()
        .find(|(action, _, outcome, _, details)| {
            action == "users:ChangeRole" && outcome == "failure" && details["role"] == "owner"
        })
        .expect("the refused escalation is audited");
    assert_eq!(escalation.3.as_deref(), Some("forbidden"));
    let removal = audit
        .iter()
        .find(|(action, _, outcome, _, _)| action == "users:Remove" && outcome == "success")
        .unwrap();
    assert_eq!(removal.1, admin.email);
    assert_eq!(removal.4["user_id"], admin.id.to_string());
}

#[sqlx::test(migrations = "../migrations")]
async fn the_last_owner_stays(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let path = format!("/users/{}", owner.id);
    let demote = app
        .call(&owner.token, "PATCH", &path, Some(json!({"role": "admin"})))
        .await;
    assert_problem(&demote, StatusCode::CONFLICT);
    assert_eq!(
        demote.body["detail"],
        "the tenant must keep at least one owner"
    );
    assert_problem(
        &app.call(&owner.token, "DELETE", &path, None).await,
        StatusCode::CONFLICT,
    );
    assert_eq!(
        app.role_of(app.acme, owner.id).await.as_deref(),
        Some("owner")
    );

    // With a second owner, one may step down.
    let second = app.member(app.acme, Role::Owner).await;
    let step_down = app
        .call(
            &second.token,
            "PATCH",
            &format!("/users/{}", second.id),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(step_down.status, StatusCode::OK, "{}", step_down.body);
    assert_problem(
        &app.call(&owner.token, "DELETE", &path, None).await,
        StatusCode::CONFLICT,
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_demotions_of_the_last_two_owners_leave_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for round in 0..5 {
        let first = app.member(app.acme, Role::Owner).await;
        let second = app.member(app.acme, Role::Owner).await;
        // Each demotes the other at the same time; other owners from earlier rounds are gone.
        let (first_path, second_path) = (
            format!("/users/{}", first.id),
            format!("/users/{}", second.id),
        );
        let (a, b) = tokio::join!(
            app.call(
                &first.token,
                "PATCH",
                &second_path,
                Some(json!({"role": "admin"}))
            ),
            app.call(
                &second.token,
                "PATCH",
                &first_path,
                Some(json!({"role": "admin"}))
            ),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        // The loser is either refused as the last owner or, if the winner's demotion committed
        // first, refused because it is no longer an owner itself (403).
        assert_eq!(statuses[0], StatusCode::OK, "round {round}: {a:?} {b:?}");
        assert!(
            statuses[1] == StatusCode::CONFLICT || statuses[1] == StatusCode::FORBIDDEN,
            "round {round}: {a:?} {b:?}"
        );
        let owners = app
            .count(&format!(
                "SELECT count(*) FROM memberships WHERE tenant_id = '{}' AND role = 'owner'",
                app.acme.0
            ))
            .await;
        assert_eq!(owners, 1, "round {round}");
        sqlx::query("DELETE FROM memberships WHERE user_id = ANY($1)")
            .bind(vec![first.id, second.id])
            .execute(&app.pool)
            .await
            .unwrap();

        // Both owners step down at the same time: one of them must stay, with a 409.
        let first = app.member(app.acme, Role::Owner).await;
        let second = app.member(app.acme, Role::Owner).await;
        let (first_path, second_path) = (
            format!("/users/{}", first.id),
            format!("/users/{}", second.id),
        );
        let (a, b) = tokio::join!(
            app.call(
                &first.token,
                "PATCH",
                &first_path,
                Some(json!({"role": "viewer"}))
            ),
            app.call(&second.token, "DELETE", &second_path, None),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert!(
            statuses == [StatusCode::OK, StatusCode::CONFLICT]
                || statuses == [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
            "round {round}: {a:?} {b:?}"
        );
        let owners = app
            .count(&format!(
                "SELECT count(*) FROM memberships WHERE tenant_id = '{}' AND role = 'owner'",
                app.acme.0
            ))
            .await;
        assert_eq!(owners, 1, "round {round}");
        sqlx::query("DELETE FROM memberships WHERE user_id = ANY($1)")
            .bind(vec![first.id, second.id])
            .execute(&app.pool)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_removed_member_loses_tokens_sessions_and_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let (_, invitation) = app
        .invitation(&owner.token, "lin@example.com", "admin")
        .await;
    let session = app.accept(&invitation, NEW_PASSWORD).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let access = session.body["access_token"].as_str().unwrap().to_owned();
    let refresh = session.body["refresh_token"].as_str().unwrap().to_owned();
    let lin: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'lin@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // A key Lin owns in acme, and one in globex that must survive.
    for (tenant, key_id) in [
        (app.acme, "AKIAUSERSTESTACME001"),
        (app.globex, "AKIAUSERSTESTGLOBEX1"),
    ] {
        if tenant == app.globex {
            app.store
                .put_membership(tenant, UserId(lin), Role::Developer)
                .await
                .unwrap();
        }
        app.store
            .create_access_key(
                tenant,
                NewAccessKeyRecord {
                    access_key_id: key_id.to_owned(),
                    sealed_secret: "sealed".to_owned(),
                    name: "lin's key".to_owned(),
                    role: Role::Developer,
                    user_id: Some(UserId(lin)),
                },
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        app.call(&access, "GET", "/users", None).await.status,
        StatusCode::OK
    );

    let removed = app
        .call(&owner.token, "DELETE", &format!("/users/{lin}"), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    // The still-valid access token is refused on the next request; the refresh token is dead.
    assert_problem(
        &app.call(&access, "GET", "/me", None).await,
        StatusCode::UNAUTHORIZED,
    );
    let refreshed = app
        .post_from(
            "/auth/refresh",
            json!({"refresh_token": refresh}),
            "127.0.0.1:5000",
        )
        .await;
    assert_problem(&refreshed, StatusCode::UNAUTHORIZED);
    // Acme's key is a tombstone for the reconciler to purge; globex's is untouched.
    let keys: Vec<(String, bool, i64, bool)> = sqlx::query_as(
        "SELECT access_key_id, enabled, generation, deleted_at IS NOT NULL
         FROM access_keys ORDER BY access_key_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        keys,
        [
            ("AKIAUSERSTESTACME001".to_owned(), false, 2, true),
            ("AKIAUSERSTESTGLOBEX1".to_owned(), true, 1, false),
        ]
    );
    assert_eq!(
        app.role_of(app.globex, lin).await.as_deref(),
        Some("developer")
    );
    // The account itself remains (it may belong to other tenants).
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'lin@example.com'")
            .await,
        1
    );
    let audit = app.user_audit(app.acme).await;
    let removal = audit.last().unwrap();
    assert_eq!(removal.0, "users:Remove");
    assert_eq!(removal.1, "lin@example.com");
    assert_eq!(removal.4["deleted_keys"], json!(["AKIAUSERSTESTACME001"]));
    assert_eq!(removal.4["revoked_sessions"], 1);
    // Removing again: no such member.
    assert_problem(
        &app.call(&owner.token, "DELETE", &format!("/users/{lin}"), None)
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn members_may_leave(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let viewer = app.member(app.acme, Role::Viewer).await;
    let left = app
        .call(
            &viewer.token,
            "DELETE",
            &format!("/users/{}", viewer.id),
            None,
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{}", left.body);
    assert_problem(
        &app.call(&viewer.token, "GET", "/me", None).await,
        StatusCode::UNAUTHORIZED,
    );
    // ... but may not change their own role without ManageUsers.
    let developer = app.member(app.acme, Role::Developer).await;
    assert_problem(
        &app.call(
            &developer.token,
            "PATCH",
            &format!("/users/{}", developer.id),
            Some(json!({"role": "admin"})),
        )
        .await,
        StatusCode::FORBIDDEN,
    );
    let audit = app.user_audit(app.acme).await;
    assert_eq!(audit[0].0, "users:Leave");
    assert_eq!(audit[0].1, viewer.email);
    assert_problem(
        &app.call(
            &owner.token,
            "DELETE",
            &format!("/users/{}", owner.id),
            None,
        )
        .await,
        StatusCode::CONFLICT,
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn another_tenants_members_and_invitations_are_not_found(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let acme_owner = app.member(app.acme, Role::Owner).await;
    let acme_dev = app.member(app.acme, Role::Developer).await;
    let (invitation_id, _) = app
        .invitation(&acme_owner.token, "x@example.com", "viewer")
        .await;
    let globex_owner = app.member(app.globex, Role::Owner).await;
    for (method, path, body) in [
        (
            "PATCH",
            format!("/users/{}", acme_dev.id),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", format!("/users/{}", acme_dev.id), None),
        ("DELETE", format!("/invitations/{invitation_id}"), None),
        ("DELETE", format!("/users/{}", Uuid::now_v7()), None),
        ("DELETE", format!("/invitations/{}", Uuid::now_v7()), None),
    ] {
        let answer = app.call(&globex_owner.token, method, &path, body).await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        assert_eq!(answer.body["detail"], "no such resource");
    }
    let listed = app.call(&globex_owner.token, "GET", "/users", None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let listed = app
        .call(&globex_owner.token, "GET", "/invitations", None)
        .await;
    assert_eq!(listed.body["items"], json!([]));
    assert_eq!(
        app.role_of(app.acme, acme_dev.id).await.as_deref(),
        Some("developer")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_are_paged_with_cursors_bound_to_tenant_and_list(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let mut expected = vec![owner.id.to_string()];
    for _ in 0..4 {
        expected.push(app.member(app.acme, Role::Viewer).await.id.to_string());
    }
    for index in 0..3 {
        app.invitation(&owner.token, &format!("p{index}@example.com"), "viewer")
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/users?limit=2&cursor={cursor}"),
            None => "/users?limit=2".to_owned(),
        };
        let page = app.call(&owner.token, "GET", &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|item| item["user_id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let first = app.call(&owner.token, "GET", "/users?limit=1", None).await;
    let user_cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let invitations = app
        .call(&owner.token, "GET", "/invitations?limit=2", None)
        .await;
    assert_eq!(invitations.body["items"].as_array().unwrap().len(), 2);
    let invitation_cursor = invitations.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .call(
            &owner.token,
            "GET",
            &format!("/invitations?cursor={invitation_cursor}"),
            None,
        )
        .await;
    assert_eq!(rest.body["items"][0]["email"], "p2@example.com");

    let globex_owner = app.member(app.globex, Role::Owner).await;
    for (token, path) in [
        (&owner.token, format!("/invitations?cursor={user_cursor}")),
        (&owner.token, format!("/users?cursor={invitation_cursor}")),
        (&globex_owner.token, format!("/users?cursor={user_cursor}")),
        (&owner.token, "/users?cursor=forged".to_owned()),
        (&owner.token, "/users?limit=0".to_owned()),
        (&owner.token, "/users?limit=201".to_owned()),
        (&owner.token, "/users?limit=abc".to_owned()),
        (&owner.token, "/invitations?unknown=1".to_owned()),
    ] {
        let answer = app.call(token, "GET", &path, None).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn invitations_are_idempotent_and_members_are_not_reinvited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let send = |key: &'static str, body: Value| {
        let request = Request::post("/api/v1/invitations")
            .header(header::AUTHORIZATION, format!("Bearer {}", owner.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(request)
    };
    let body = json!({"email": "kim@example.com", "role": "viewer"});
    let first = send("invite-kim", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = send("invite-kim", body.clone()).await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["id"], first.body["id"]);
    assert!(replay.body.get("token").is_none());
    let other = send(
        "invite-kim",
        json!({"email": "kim@example.com", "role": "admin"}),
    )
    .await;
    assert_problem(&other, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 1);

    // Someone already in the tenant is not invited again; nothing is stored.
    let member = app.member(app.acme, Role::Viewer).await;
    let again = app
        .invite(&owner.token, &member.email.to_uppercase(), "admin")
        .await;
    assert_problem(&again, StatusCode::CONFLICT);
    let claimed = send(
        "invite-member",
        json!({"email": member.email, "role": "admin"}),
    )
    .await;
    assert_problem(&claimed, StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM invitation_idempotency")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_input_gets_problems_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let owner = app.member(app.acme, Role::Owner).await;
    let target = app.member(app.acme, Role::Developer).await;
    let long_email = format!("{}@example.com", "a".repeat(300));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed json", b"{\"email\": ".to_vec()),
        ("not an object", b"[]".to_vec()),
        (
            "unknown field",
            br#"{"email":"a@example.com","role":"viewer","admin":true}"#.to_vec(),
        ),
        ("wrong type", br#"{"email":42,"role":"viewer"}"#.to_vec()),
        ("missing role", br#"{"email":"a@example.com"}"#.to_vec()),
        (
            "invalid role",
            br#"{"email":"a@example.com","role":"superuser"}"#.to_vec(),
        ),
        (
            "long email",
            json!({"email": long_email, "role": "viewer"})
                .to_string()
                .into_bytes(),
        ),
        (
            "sql email",
            br#"{"email":"x'; DROP TABLE users; --","role":"viewer"}"#.to_vec(),
        ),
        (
            "sql role",
            br#"{"email":"a@example.com","role":"viewer'; --"}"#.to_vec(),
        ),
        (
            "nul email",
            br#"{"email":"a\u0000@example.com","role":"viewer"}"#.to_vec(),
        ),
        (
            "no at",
            br#"{"email":"example.com","role":"viewer"}"#.to_vec(),
        ),
    ];
    for (case, body) in cases {
        let answer = app
            .raw(&owner.token, "POST", "/invitations", Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            answer.body
        );
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    let text = Request::post("/api/v1/invitations")
        .header(header::AUTHORIZATION, format!("Bearer {}", owner.token))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("email=a@example.com"))
        .unwrap();
    assert_problem(&app.send(text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let path = format!("/users/{}", target.id);
    for body in [
        br#"{"role":"superuser"}"#.to_vec(),
        br#"{"role":"Owner"}"#.to_vec(),
        br#"{"role":1}"#.to_vec(),
        br#"{}"#.to_vec(),
        br#"{"role":"viewer","email":"x@example.com"}"#.to_vec(),
        b"role=viewer".to_vec(),
    ] {
        let answer = app.raw(&owner.token, "PATCH", &path, Some(body)).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    for id in [
        "not-a-uuid",
        "1%27%3B%20DROP%20TABLE%20users%3B%20--",
        &"9".repeat(500),
    ] {
        let answer = app
            .call(
                &owner.token,
                "PATCH",
                &format!("/users/{id}"),
                Some(json!({"role": "viewer"})),
            )
            .await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        let answer = app
            .call(&owner.token, "DELETE", &format!("/users/{id}"), None)
            .await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        let answer = app
            .call(&owner.token, "DELETE", &format!("/invitations/{id}"), None)
            .await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        app.role_of(app.acme, target.id).await.as_deref(),
        Some("developer")
    );
    assert_eq!(app.count("SELECT count(*) FROM invitations").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM memberships").await, 2);
    // Refused calls are audited too, even with a NUL in the email (stored without it).
    let refused = app
        .count(
            "SELECT count(*) FROM audit_log
             WHERE action = 'users:Invite' AND outcome = 'failure' AND resource = 'a@example.com'",
        )
        .await;
    assert_eq!(refused, 1);

    // Accepting: bad bodies, and a password the policy refuses for a new account.
    let (_, token) = app
        .invitation(&owner.token, "new@example.com", "viewer")
        .await;
    for body in [
        json!({"token": token}),
        json!({"token": token, "password": NEW_PASSWORD, "role": "owner"}),
        json!({"token": 42, "password": NEW_PASSWORD}),
        json!({"token": token, "password": "short"}),
        json!({"token": token, "password": "            "}),
        json!({"token": token, "password": "x".repeat(2000)}),
    ] {
        let answer = app
            .post_from("/auth/accept-invitation", body, "127.0.0.1:5000")
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2);
    let still = app.accept(&token, NEW_PASSWORD).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn failed_accepts_are_rate_limited(pool: PgPool) {
    let policy = RateLimitPolicy {
        failures_per_account: 2,
        failures_per_address: 3,
        window: Duration::from_secs(60),
    };
    let app = TestApp::with_policy(pool, policy).await;
    let owner = app.member(app.acme, Role::Owner).await;
    for _ in 0..3 {
        let answer = app
            .post_from(
                "/auth/accept-invitation",
                json!({"token": "guess", "password": NEW_PASSWORD}),
                "10.0.0.1:1000",
            )
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }
    let (_, token) = app
        .invitation(&owner.token, "late@example.com", "viewer")
        .await;
    let limited = app
        .post_from(
            "/auth/accept-invitation",
            json!({"token": token, "password": NEW_PASSWORD}),
            "10.0.0.1:1000",
        )
        .await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));

    // Wrong passwords for an existing account count against that account.
    app.store
        .create_user("kai@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    let (_, kai) = app
        .invitation(&owner.token, "kai@example.com", "viewer")
        .await;
    for address in ["10.0.0.2:1", "10.0.0.3:1"] {
        let answer = app
            .post_from(
                "/auth/accept-invitation",
                json!({"token": kai, "password": "not the password"}),
                address,
            )
            .await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
    }
    let locked = app
        .post_from(
            "/auth/accept-invitation",
            json!({"token": kai, "password": PASSWORD}),
            "10.0.0.4:1",
        )
        .await;
    assert_problem(&locked, StatusCode::TOO_MANY_REQUESTS);
    // The invitation itself is still good once the window passes.
    sqlx::query("UPDATE sign_in_failures SET window_start = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    let accepted = app
        .post_from(
            "/auth/accept-invitation",
            json!({"token": kai, "password": PASSWORD}),
            "10.0.0.4:1",
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_describes_the_user_endpoints(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let document = app.call("", "GET", "/openapi.json", None).await.body;
    for (path, method) in [
        ("/api/v1/users", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/users/{id}", "delete"),
        ("/api/v1/invitations", "get"),
        ("/api/v1/invitations", "post"),
        ("/api/v1/invitations/{id}", "delete"),
        ("/api/v1/auth/accept-invitation", "post"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    for route in [
        ("PATCH", "/api/v1/users/{id}"),
        ("DELETE", "/api/v1/users/{id}"),
        ("DELETE", "/api/v1/invitations/{id}"),
    ] {
        assert!(api::TENANT_RESOURCE_ROUTES.contains(&route), "{route:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn members_change_their_own_password_with_the_current_one(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ada = app
        .store
        .create_user("ada@example.com", &password::hash(PASSWORD).unwrap(), false)
        .await
        .unwrap();
    app.store
        .put_membership(app.acme, UserId(ada.id), Role::Viewer)
        .await
        .unwrap();
    let sign_in = |password: &'static str| {
        app.post_from(
            "/auth/sign-in",
            json!({"email": "ada@example.com", "password": password}),
            "127.0.0.1:5000",
        )
    };
    let first = sign_in(PASSWORD).await;
    let second = sign_in(PASSWORD).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let access = first.body["access_token"].as_str().unwrap().to_owned();

    for (body, status) in [
        (
            json!({"current_password": "wrong password!", "new_password": NEW_PASSWORD}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"current_password": PASSWORD, "new_password": "short"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@example.com"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"new_password": NEW_PASSWORD}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let answer = app.call(&access, "PUT", "/me/password", Some(body)).await;
        assert_problem(&answer, status);
    }
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(ada.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(password::verify(PASSWORD, &hash), "unchanged so far");

    let changed = app
        .call(
            &access,
            "PUT",
            "/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["tenant"]["name"], "acme");
    // Every earlier session ends at its next refresh; the new one works.
    for old in [&first, &second] {
        let refreshed = app
            .post_from(
                "/auth/refresh",
                json!({"refresh_token": old.body["refresh_token"]}),
                "127.0.0.1:5000",
            )
            .await;
        assert_problem(&refreshed, StatusCode::UNAUTHORIZED);
    }
    let refreshed = app
        .post_from(
            "/auth/refresh",
            json!({"refresh_token": changed.body["refresh_token"]}),
            "127.0.0.1:5000",
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    // Access tokens from before the change are refused at once; the new session's work.
    let second_access = second.body["access_token"].as_str().unwrap();
    for stale in [access.as_str(), second_access] {
        assert_problem(
            &app.call(stale, "GET", "/me", None).await,
            StatusCode::UNAUTHORIZED,
        );
    }
    for fresh in [&changed, &refreshed] {
        let token = fresh.body["access_token"].as_str().unwrap();
        let me = app.call(token, "GET", "/me", None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    }
    assert_problem(&sign_in(PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(NEW_PASSWORD).await.status, StatusCode::OK);

    let outcomes: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT outcome, error_code FROM audit_log
         WHERE action = 'auth:ChangePassword' ORDER BY occurred_at, id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        [
            ("failure".to_owned(), Some("invalid-credentials".to_owned())),
            ("failure".to_owned(), Some("bad-request".to_owned())),
            ("success".to_owned(), None),
        ]
    );
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(audit_log::text, ' ') FROM audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!everything.contains(NEW_PASSWORD) && !everything.contains(PASSWORD));
}

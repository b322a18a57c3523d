//! Looking after accounts: a member changes their password (other sessions
//! end), an admin changes roles and disables accounts, and the site always
//! keeps an enabled admin.

use crate::common;

use app::types::Role;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn sign_in<'a>(app: &'a TestApp, email: &str, password: &str) -> (Buyer<'a>, u16) {
    let mut browser = Buyer::new(app);
    let (status, _) = browser
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await;
    (browser, status)
}

async fn admin<'a>(app: &'a TestApp, email: &str) -> Buyer<'a> {
    signed_in_member(app, email, Role::Admin).await
}

async fn me(browser: &mut Buyer<'_>) -> (u16, Value) {
    browser.send(Method::GET, "/api/me", None).await
}

async fn find(admin: &mut Buyer<'_>, email: &str) -> (u16, Value) {
    admin
        .send(
            Method::GET,
            &format!("/api/admin/users?email={email}"),
            None,
        )
        .await
}

async fn change(admin: &mut Buyer<'_>, id: &Value, body: Value) -> (u16, Value) {
    admin
        .send(Method::PATCH, &format!("/api/admin/users/{id}"), Some(body))
        .await
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_signs_out_the_other_sessions() {
    let app = spawn_app().await;
    let mut laptop = register(&app, "ada@example.com", "Fan").await;
    let (mut phone, status) = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(status, 200);
    let path = "/api/me/password";
    let body =
        |current: &str, new: &str| Some(json!({"current_password": current, "new_password": new}));

    let (status, error) = laptop
        .send(
            Method::POST,
            path,
            body("not my password", "a new passphrase"),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (status, error) = laptop
        .send(Method::POST, path, body(PASSWORD, "short"))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("validation"))
    );
    assert_eq!(me(&mut phone).await.0, 200, "nothing changed yet");
    let mut stranger = Buyer::new(&app);
    let (status, _) = stranger
        .send(Method::POST, path, body(PASSWORD, "a new passphrase"))
        .await;
    assert_eq!(status, 401);

    let (status, _) = laptop
        .send(Method::POST, path, body(PASSWORD, "a new passphrase"))
        .await;
    assert_eq!(status, 204);
    assert_eq!(me(&mut laptop).await.0, 200, "this session stays signed in");
    assert_eq!(
        me(&mut phone).await.0,
        401,
        "the other session is signed out"
    );
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.1, 401);
    assert_eq!(
        sign_in(&app, "ada@example.com", "a new passphrase").await.1,
        200
    );
}

#[tokio::test]
async fn an_admin_finds_an_account_changes_its_role_and_disables_it() {
    let app = spawn_app().await;
    let mut boss = admin(&app, "boss@example.com").await;
    let mut fan = register(&app, "fan@example.com", "Fan").await;

    let (status, _) = find(&mut fan, "fan@example.com").await;
    assert_eq!(status, 403, "admins only");
    assert_eq!(find(&mut boss, "nobody@example.com").await.0, 404);
    let (status, user) = find(&mut boss, "FAN@example.com").await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        (
            user["email"].as_str(),
            user["role"].as_str(),
            user["disabled"].as_bool()
        ),
        (Some("fan@example.com"), Some("fan"), Some(false))
    );
    let id = user["id"].clone();

    let (status, user) = change(&mut boss, &id, json!({"role": "staff"})).await;
    assert_eq!((status, user["role"].as_str()), (200, Some("staff")));
    assert_eq!(me(&mut fan).await.1["role"], "staff", "at once");

    let (status, user) = change(&mut boss, &id, json!({"disabled": true})).await;
    assert_eq!((status, user["disabled"].as_bool()), (200, Some(true)));
    assert_eq!(me(&mut fan).await.0, 401, "its session ended");
    assert_eq!(sign_in(&app, "fan@example.com", PASSWORD).await.1, 401);
    let (sessions,): (i64,) = server::on_pool!(app.store(), pool =>
        sqlx::query_as("SELECT COUNT(*) FROM auth_sessions WHERE user_id = $1")
            .bind(id.as_i64().expect("id"))
            .fetch_one(pool)
            .await)
    .expect("count");
    assert_eq!(sessions, 0);

    let (status, _) = change(&mut boss, &id, json!({"disabled": false})).await;
    assert_eq!(status, 200);
    assert_eq!(sign_in(&app, "fan@example.com", PASSWORD).await.1, 200);

    for (body, expected) in [
        // Naming nothing to change changes nothing.
        (json!({}), 200),
        (json!({"role": "owner"}), 422),
        (json!({"disabled": true, "password": "x"}), 422),
    ] {
        assert_eq!(
            change(&mut boss, &id, body.clone()).await.0,
            expected,
            "{body}"
        );
    }
    assert_eq!(
        change(&mut boss, &json!(999_999), json!({"role": "fan"}))
            .await
            .0,
        404
    );
    assert_eq!(
        change(&mut boss, &json!("abc"), json!({"role": "fan"}))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn the_site_always_keeps_an_enabled_admin() {
    let app = spawn_app().await;
    let mut first = admin(&app, "first@example.com").await;
    let (_, me_first) = find(&mut first, "first@example.com").await;
    let first_id = me_first["id"].clone();

    for body in [json!({"role": "staff"}), json!({"disabled": true})] {
        let (status, error) = change(&mut first, &first_id, body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (409, Some("last_admin"))
        );
    }
    assert_eq!(me(&mut first).await.1["role"], "admin", "unchanged");

    // A disabled admin does not count.
    let mut second = admin(&app, "second@example.com").await;
    let (_, user) = find(&mut first, "second@example.com").await;
    let second_id = user["id"].clone();
    assert_eq!(
        change(&mut first, &second_id, json!({"disabled": true}))
            .await
            .0,
        200
    );
    assert_eq!(
        change(&mut first, &first_id, json!({"role": "fan"}))
            .await
            .0,
        409
    );
    assert_eq!(me(&mut second).await.0, 401);

    // With another enabled admin, an admin may step down.
    assert_eq!(
        change(&mut first, &second_id, json!({"disabled": false}))
            .await
            .0,
        200
    );
    let (status, user) = change(&mut first, &first_id, json!({"role": "staff"})).await;
    assert_eq!((status, user["role"].as_str()), (200, Some("staff")));
    assert_eq!(
        change(&mut first, &second_id, json!({"role": "fan"}))
            .await
            .0,
        403,
        "no longer an admin"
    );
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    for round in 0..6 {
        let app = spawn_app().await;
        let mut first = admin(&app, "first@example.com").await;
        let mut second = admin(&app, "second@example.com").await;
        let first_id = find(&mut first, "first@example.com").await.1["id"].clone();
        let second_id = find(&mut first, "second@example.com").await.1["id"].clone();
        let (one, other) = tokio::join!(
            change(&mut first, &second_id, json!({"role": "staff"})),
            change(&mut second, &first_id, json!({"role": "staff"})),
        );
        let (admins,): (i64,) = server::on_pool!(app.store(), pool =>
            sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
                .fetch_one(pool)
                .await)
        .expect("count");
        assert_eq!(admins, 1, "round {round}: {one:?} {other:?}");
    }
}

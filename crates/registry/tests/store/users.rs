//! Users and API tokens, on each backend: passwords are checked, never
//! shown; an unknown user and a wrong password answer alike; tokens work
//! until revoked or expired; the last admin stays.

use retrain_registry::{Caller, ErrorCode, Role, SqlStore, now_ms, per_backend};

per_backend! {
    users_sign_in_with_their_password: passwords_on_sqlite, passwords_on_postgres;
    tokens_act_as_their_user_until_revoked_or_expired: tokens_on_sqlite, tokens_on_postgres;
    the_last_admin_cannot_be_deleted: last_admin_on_sqlite, last_admin_on_postgres;
    a_role_change_holds_at_once_but_not_for_the_last_admin: role_on_sqlite, role_on_postgres;
}

async fn users_sign_in_with_their_password(backend: &str, store: SqlStore) {
    assert!(!store.has_users().await.unwrap(), "{backend}");
    let ana = store.add_user("ana", Role::Editor, "correct horse").await.unwrap();
    assert_eq!((ana.name.as_str(), ana.role), ("ana", Role::Editor));
    assert!(store.has_users().await.unwrap());
    let again = store.add_user("ana", Role::Viewer, "another password").await.unwrap_err();
    assert_eq!(again.code, ErrorCode::ResourceAlreadyExists);
    let too_long = "p".repeat(retrain_registry::MAX_PASSWORD_BYTES + 1);
    for (name, password) in
        [("", "long enough"), ("a b", "long enough"), ("bob", "short"), ("bob", too_long.as_str())]
    {
        let refused = store.add_user(name, Role::Viewer, password).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidParameterValue, "{name:?}");
    }

    let as_ana = Some(Caller { name: "ana".into(), role: Role::Editor });
    assert_eq!(store.caller_for_password("ana", "correct horse").await.unwrap(), as_ana);
    // The second time the check is remembered; the answer is the same.
    assert_eq!(store.caller_for_password("ana", "correct horse").await.unwrap(), as_ana);
    assert_eq!(store.caller_for_password("ana", "wrong horse").await.unwrap(), None);
    assert_eq!(store.caller_for_password("nobody", "correct horse").await.unwrap(), None);
    let huge = "x".repeat(10 * 1024);
    assert_eq!(store.caller_for_password("ana", &huge).await.unwrap(), None);

    // A new password forgets the remembered check of the old one.
    store.set_password("ana", "battery staple").await.unwrap();
    assert_eq!(store.caller_for_password("ana", "correct horse").await.unwrap(), None);
    assert!(store.caller_for_password("ana", "battery staple").await.unwrap().is_some());
    assert_eq!(
        store.set_password("nobody", "battery staple").await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );
    let listed = store.users().await.unwrap();
    assert_eq!(listed, [ana]);
}

async fn tokens_act_as_their_user_until_revoked_or_expired(backend: &str, store: SqlStore) {
    store.add_user("ci", Role::Editor, "a long password").await.unwrap();
    let token = store.create_token("ci", None).await.unwrap();
    assert!(token.secret.starts_with("rt_") && token.secret.len() > 60, "{backend}");
    let caller = store.caller_for_token(&token.secret).await.unwrap().expect("the token works");
    assert_eq!(caller, Caller { name: "ci".into(), role: Role::Editor });
    let listed = store.tokens(Some("ci")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, token.id);
    let first_use = listed[0].last_used_at;
    assert!(first_use.is_some(), "use is recorded");
    // Within the minute another use costs no write.
    store.caller_for_token(&token.secret).await.unwrap().expect("the token still works");
    assert_eq!(store.tokens(Some("ci")).await.unwrap()[0].last_used_at, first_use);
    // Neither a near miss nor something else is a token.
    assert_eq!(store.caller_for_token(&format!("{}x", token.secret)).await.unwrap(), None);
    assert_eq!(store.caller_for_token("a long password").await.unwrap(), None);

    store.revoke_token(&token.id).await.unwrap();
    assert_eq!(store.caller_for_token(&token.secret).await.unwrap(), None);
    assert_eq!(store.revoke_token(&token.id).await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);

    let expired = store.create_token("ci", Some(now_ms() - 1)).await.unwrap();
    assert_eq!(store.caller_for_token(&expired.secret).await.unwrap(), None);
    let issued = store.sessions().issue("task:p/r/t", Role::Editor, std::time::Duration::from_secs(60));
    let caller = store.caller_for_token(&issued).await.unwrap().expect("an issued token works");
    assert_eq!(caller.name, "task:p/r/t");
    assert!(store.tokens(None).await.unwrap().iter().all(|t| t.user == "ci"), "issued tokens are not stored");
    store.sessions().end(&issued);
    assert_eq!(store.caller_for_token(&issued).await.unwrap(), None);
    let unknown = store.create_token("nobody", None).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::ResourceDoesNotExist);
}

async fn the_last_admin_cannot_be_deleted(backend: &str, store: SqlStore) {
    store.add_user("admin", Role::Admin, "first admin password").await.unwrap();
    let refused = store.delete_user("admin").await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidState, "{backend}");
    store.add_user("root2", Role::Admin, "second admin password").await.unwrap();
    let token = store.create_token("admin", None).await.unwrap();
    store.delete_user("admin").await.unwrap();
    assert_eq!(store.caller_for_token(&token.secret).await.unwrap(), None, "its tokens go with it");
    assert!(store.tokens(None).await.unwrap().is_empty());
    assert_eq!(store.delete_user("admin").await.unwrap_err().code, ErrorCode::ResourceDoesNotExist);
}

async fn a_role_change_holds_at_once_but_not_for_the_last_admin(backend: &str, store: SqlStore) {
    store.add_user("admin", Role::Admin, "first admin password").await.unwrap();
    store.add_user("ana", Role::Editor, "ana's password").await.unwrap();
    let remembered = store.caller_for_password("ana", "ana's password").await.unwrap().unwrap();
    assert_eq!(remembered.role, Role::Editor);
    let session = store.sessions().issue("ana", Role::Editor, std::time::Duration::from_secs(60));

    let changed = store.set_role("ana", Role::Viewer).await.unwrap();
    assert_eq!(changed.role, Role::Viewer, "{backend}");
    let again = store.caller_for_password("ana", "ana's password").await.unwrap().unwrap();
    assert_eq!(again.role, Role::Viewer, "the remembered check is forgotten");
    assert_eq!(store.caller_for_token(&session).await.unwrap().unwrap().role, Role::Viewer);
    assert_eq!(store.users().await.unwrap()[1].role, Role::Viewer);

    let refused = store.set_role("admin", Role::Editor).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidState, "{backend}");
    assert!(refused.message.contains("only admin"), "{}", refused.message);
    store.set_role("admin", Role::Admin).await.unwrap();
    assert_eq!(
        store.set_role("nobody", Role::Viewer).await.unwrap_err().code,
        ErrorCode::ResourceDoesNotExist
    );

    store.set_password("ana", "a new password").await.unwrap();
    assert_eq!(store.caller_for_token(&session).await.unwrap(), None, "a new password ends the sessions");
}

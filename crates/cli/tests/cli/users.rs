//! `retrain users …` in a project: passwords only from standard input or
//! a terminal, tokens shown once, clear refusals.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::retrain;

#[test]
fn users_and_tokens_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    retrain(d).args(["init"]).assert().success();
    let add = |name: &str, role: &str, password: &str| {
        retrain(d)
            .args(["users", "add", name, "--role", role, "--password-stdin"])
            .write_stdin(format!("{password}\n"))
            .assert()
    };
    add("ana", "admin", "a long password").success().stdout(contains("added ana (admin)"));
    add("bo", "viewer", "another long one").success();
    add("ana", "viewer", "a long password").code(2).stderr(contains("exists already"));
    add("cy", "viewer", "short").code(2).stderr(contains("at least 8 characters"));
    add("cy", "root", "a long password").code(2).stderr(contains("'root' is not a role"));
    // No terminal and no --password-stdin: said, not hung.
    retrain(d)
        .args(["users", "add", "cy", "--role", "viewer"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(contains("--password-stdin"));
    retrain(d)
        .args(["users", "list"])
        .assert()
        .success()
        .stdout(contains("ana").and(contains("admin")).and(contains("bo")).and(contains("viewer")))
        .stdout(contains("a long password").not());

    let created = retrain(d).args(["users", "token", "create", "bo", "--expires", "90d"]).output().unwrap();
    assert!(created.status.success());
    let secret = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(secret.starts_with("rt_"), "{secret}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("not shown again"));
    let listed = retrain(d).args(["users", "token", "list", "bo"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(!listed.contains(&secret), "a secret is never listed: {listed}");
    let id = listed.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
    retrain(d).args(["users", "token", "revoke", &id]).assert().success();
    retrain(d).args(["users", "token", "revoke", &id]).assert().code(2).stderr(contains("no token"));

    retrain(d)
        .args(["users", "passwd", "bo", "--password-stdin"])
        .write_stdin("a new long password\n")
        .assert()
        .success();
    retrain(d).args(["users", "delete", "ana"]).assert().code(2).stderr(contains("only admin"));
    retrain(d).args(["users", "delete", "bo"]).assert().success();
    retrain(d).args(["users", "delete", "bo"]).assert().code(2).stderr(contains("no user named 'bo'"));
}

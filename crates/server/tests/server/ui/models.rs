//! The models pages and their actions: the list shows each model's
//! champion to a signed-in viewer, and an anonymous browser is sent to
//! sign in.

use super::{Browser, location};
use crate::common::full_app;

#[tokio::test(flavor = "multi_thread")]
async fn the_models_list_shows_each_champion() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, store) = full_app(dir.path()).await;
    store.create_registered_model("churn", "", &[]).await.unwrap();
    for _ in 0..2 {
        store.create_model_version("churn", "models:/m", None, None, &[], None, "", "ed").await.unwrap();
    }
    store.set_alias("churn", "champion", "2", "ed", "better recall").await.unwrap();

    let page = Browser::signed_in(&app, "vera").await.page("/models").await;
    assert!(page.contains("churn"), "{page}");
    assert!(page.contains("version 2"), "{page}");

    assert_eq!(location(&Browser::new(&app).get("/models").await), "/login?next=%2Fmodels");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_registry_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = full_app(dir.path()).await;
    let page = Browser::signed_in(&app, "vera").await.page("/models").await;
    assert!(page.contains("No registered models yet"), "{page}");
}

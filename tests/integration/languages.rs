//! A plugin's texts in the reader's language, through real HTTP on SQLite
//! and PostgreSQL: the example plugins give their name, description and
//! purposes in Chinese and English (Chinese first); the tiles, the
//! disclosure (also inside a `consent_required` refusal), the catalogue and
//! the admin's installations follow `Accept-Language`, and fall back to
//! the plugin's primary language.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use workbench_host::model::directory::Role;

use crate::server::{Reply, Server, on_both_databases};

const MEMBER: &[Role] = &[Role::Member];

async fn get(server: &Server, token: &str, path: &str, language: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = language.map(|l| ("accept-language", l)).into_iter().collect();
    let reply = server.call_with(Method::GET, path, Some(token), None, &headers).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    reply
}

fn plugin<'a>(plugins: &'a Value, id: &str) -> &'a Value {
    plugins
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["plugin"] == id)
        .unwrap_or_else(|| panic!("{id} in {plugins}"))
}

fn purpose<'a>(scopes: &'a Value, scope: &str) -> &'a str {
    let found = scopes.as_array().expect("scopes").iter().find(|s| s["scope"] == scope).expect("declared");
    found["purpose"].as_str().expect("purpose is one string")
}

on_both_databases! {
    async fn a_plugins_texts_follow_the_readers_language(db: Db) {
        let server = Server::demo(db).await;
        let zhang = server.demo_token("zhang.wei", MEMBER);

        // The tiles: English when asked, the primary (Chinese) when the caller
        // reads none of the plugin's languages or says nothing.
        for (language, name, description, lang) in [
            (Some("en-US,en;q=0.9"), "Site daily report", "Site staff write today's construction report", "en"),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), "工程日报", "现场人员填写当天的施工日报", "zh"),
            (Some("fr-FR, de;q=0.5"), "工程日报", "现场人员填写当天的施工日报", "zh"),
            (Some("fr;q=0.9, en;q=0.5, zh;q=0.1"), "Site daily report", "Site staff", "en"),
            (None, "工程日报", "现场人员填写当天的施工日报", "zh"),
            (Some("garbage;q=zz,,;;=,en-;q=2"), "工程日报", "现场人员", "zh"),
        ] {
            let mine = get(&server, &zhang, "/api/v1/me/plugins", language).await;
            let tile = plugin(&mine.body, "site-daily-report");
            assert_eq!(tile["name"], name, "{language:?}");
            assert!(tile["description"].as_str().expect("one string").starts_with(description), "{language:?}: {tile}");
            assert_eq!(tile["lang"], lang, "{language:?}");
            assert_eq!(tile["languages"], serde_json::json!(["zh", "en"]));
        }

        // The disclosure: name, description and every purpose in one language.
        let english = get(&server, &zhang, "/api/v1/me/plugins/customer-visit/consent", Some("en")).await.body;
        assert_eq!(english["name"], "Customer visits");
        assert_eq!(english["lang"], "en");
        assert_eq!(purpose(&english["scopes"], "user.phone"), "Print your mobile number on the visit card so the customer can call you back.");
        assert_eq!(purpose(&english["scopes"], "storage"), "Keep your planned visits.");
        let chinese = get(&server, &zhang, "/api/v1/me/plugins/customer-visit/consent", Some("zh")).await.body;
        assert_eq!(chinese["name"], "客户拜访");
        assert_eq!(purpose(&chinese["scopes"], "user.phone"), "把你的手机号印在拜访卡片上，方便客户回电。");
        assert_eq!(chinese["scopes"].as_array().map(Vec::len), english["scopes"].as_array().map(Vec::len));

        // A refused invocation carries the disclosure in the caller's language too.
        let wang = server.demo_token("wang.fang", MEMBER);
        let body = serde_json::json!({ "path": "/visits.json" });
        let refused = server
            .call_with(Method::POST, "/api/v1/me/plugins/customer-visit/invoke", Some(&wang), Some(body), &[("accept-language", "en")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(refused.body["error"], "consent_required");
        assert_eq!(refused.body["disclosure"]["name"], "Customer visits");
        assert_eq!(purpose(&refused.body["disclosure"]["scopes"], "user.nickname"), "Show who planned a visit.");

        // The catalogue, every version's purposes included, and the admin's installations.
        let entry = get(&server, &zhang, "/api/v1/plugins/approval-helper", Some("en")).await.body;
        assert_eq!(entry["name"], "Approval helper");
        assert_eq!(entry["lang"], "en");
        assert_eq!(purpose(&entry["versions"][0]["scopes"], "user.nickname"), "Greet you by your nickname.");
        let catalogue = get(&server, &zhang, "/api/v1/plugins", Some("zh")).await.body;
        let listed = catalogue.as_array().expect("catalogue").iter().find(|e| e["id"] == "approval-helper").expect("listed");
        assert_eq!(listed["name"], "审批助手");
        assert_eq!(purpose(&listed["versions"][0]["scopes"], "user.nickname"), "用你的昵称问候你。");
        let admin = server.demo_token(workbench_host::demo::ADMIN, &[Role::Admin, Role::Member]);
        let installed = get(&server, &admin, "/api/v1/workbench/plugins", Some("en")).await.body;
        assert_eq!(plugin(&installed, "site-daily-report")["name"], "Site daily report");

        // The audit record names the purpose in the plugin's primary language,
        // whatever language the reader asked in.
        let lina = server.demo_token("li.na", MEMBER);
        let report = server
            .call_with(
                Method::POST,
                "/api/v1/me/plugins/site-daily-report/invoke",
                Some(&lina),
                Some(serde_json::json!({ "path": "/report.json" })),
                &[("accept-language", "en")],
            )
            .await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text);
        let log = get(&server, &lina, "/api/v1/me/access-log", Some("en")).await.body;
        let read = log["accesses"]
            .as_array()
            .expect("accesses")
            .iter()
            .find(|a| a["scope"] == "user.name" && a["outcome"] == "allowed")
            .cloned()
            .expect("the name was read");
        assert_eq!(read["purpose"], "在日报上写明填报人的姓名。");
        server.stop().await;
    }
}

on_both_databases! {
    async fn texts_given_per_language_must_give_the_same_languages(db: Db) {
        let server = Server::empty(db).await;
        let dev = server.token("acme-corp", "acme", &[Role::Developer]);
        let component = std::fs::read(xtask::guests().component("site-daily-report")).expect("built");
        let base =
            std::fs::read_to_string(xtask::repo_root().join("plugins/site-daily-report/plugin.toml")).expect("manifest");
        for (from, to, expected) in [
            (
                "purpose = { zh = \"在日报上写明填报人的姓名。\", en = \"Print the reporter's name on the daily report.\" }",
                "purpose = { zh = \"在日报上写明填报人的姓名。\" }",
                "the purpose of user.name is given in zh but the manifest's other texts are given in zh, en",
            ),
            ("name = { zh = \"工程日报\", en = \"Site daily report\" }", "name = { zh = \"工程日报\", chinese = \"x\" }", "\"chinese\" is not a language tag"),
            ("name = { zh = \"工程日报\", en = \"Site daily report\" }", "name = { zh = \"工程日报\", en = \"\" }", "name must be 1 to 64 characters"),
            ("name = { zh = \"工程日报\", en = \"Site daily report\" }", "name = {}", "at least one language"),
        ] {
            assert!(base.contains(from), "{from}");
            let reply = server.publish(&dev, &base.replacen(from, to, 1), component.clone(), None).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{to}: {}", reply.text);
            assert!(reply.body["message"].as_str().expect("message").contains(expected), "{to}: {}", reply.text);
        }
        // A purpose left as one string among texts per language is refused;
        // a name that is the same in every language (a brand) may stay one.
        let untranslated = base.replacen(
            "purpose = { zh = \"保存每个人当天的日报。\", en = \"Keep each person's reports for the day.\" }",
            "purpose = \"Keep each person's reports for the day.\"",
            1,
        );
        let reply = server.publish(&dev, &untranslated, component.clone(), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert!(reply.text.contains("the purpose of storage is one string"), "{}", reply.text);
        let brand = base.replacen("name = { zh = \"工程日报\", en = \"Site daily report\" }", "name = \"SiteLog\"", 1);
        let reply = server.publish(&dev, &brand, component, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        server.stop().await;
    }
}

//! The Network service in-process, on a fresh database (SQLite in memory, or
//! PostgreSQL when OXISTACK_TEST_POSTGRES names a cluster): addresses given
//! from a subnet's free ranges, and port lists answered in SQL.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use oxistack_core::context::Context;
use oxistack_core::testing::caller;
use oxistack_network::{Listed, Network, NetworkConfig};

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

async fn network() -> Arc<Network> {
    let pool = oxistack_core::testing::database().await;
    let config = NetworkConfig { public_cidr: "127.42.0.0/24".into(), private_cidr: "10.0.0.0/24".into() };
    Network::open(pool, config).await.unwrap()
}

fn member() -> Context {
    caller("member-user", "p1", &["member", "reader"])
}

/// A network with one IPv4 subnet of `cidr`; their ids.
async fn subnet(n: &Network, ctx: &Context, cidr: &str) -> (String, String) {
    let net = n.create_network(ctx, &body(json!({"name": "n"}))).await.unwrap();
    let net = net["id"].as_str().unwrap().to_owned();
    let s = n.create_subnet(ctx, &body(json!({"network_id": net, "cidr": cidr, "ip_version": 4}))).await.unwrap();
    (net, s["id"].as_str().unwrap().to_owned())
}

/// A port's id and its one address.
async fn port(n: &Network, ctx: &Context, extra: Value) -> (String, String) {
    let mut b = body(extra);
    b.entry("name").or_insert(json!("p"));
    let p = n.create_port(ctx, &b).await.unwrap();
    (p["id"].as_str().unwrap().to_owned(), p["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn addresses_come_lowest_first_and_come_back_when_freed() {
    let n = network().await;
    let ctx = member();
    // 10.9.0.0/28: the gateway is .1, the pool .2 to .14.
    let (net, sub) = subnet(&n, &ctx, "10.9.0.0/28").await;
    // An address asked for before any is given out automatically: the free
    // ranges are made later, without it.
    let (_, asked) = port(&n, &ctx, json!({"network_id": net, "fixed_ips": [{"ip_address": "10.9.0.4"}]})).await;
    assert_eq!(asked, "10.9.0.4");
    let mut ports = vec![];
    for _ in 0..12 {
        ports.push(port(&n, &ctx, json!({"network_id": net})).await);
    }
    let given: Vec<&str> = ports.iter().map(|(_, a)| a.as_str()).collect();
    let expected: Vec<String> =
        [2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].iter().map(|i| format!("10.9.0.{i}")).collect();
    assert_eq!(given, expected);
    let full = n.create_port(&ctx, &body(json!({"network_id": net}))).await.unwrap_err();
    assert_eq!((full.status.as_u16(), full.kind), (409, "IpAddressGenerationFailure"));

    // Freed addresses are given again, lowest first, joined back into one
    // range with their neighbours.
    for (id, address) in &ports {
        if ["10.9.0.8", "10.9.0.6", "10.9.0.7", "10.9.0.13"].contains(&address.as_str()) {
            n.delete_port(&ctx, id).await.unwrap();
        }
    }
    let mut again = vec![];
    for _ in 0..4 {
        again.push(port(&n, &ctx, json!({"network_id": net})).await.1);
    }
    assert_eq!(again, ["10.9.0.6", "10.9.0.7", "10.9.0.8", "10.9.0.13"]);
    assert!(n.create_port(&ctx, &body(json!({"network_id": net}))).await.is_err());

    // An address taken by request leaves the ranges; one given back that is
    // outside the pools (the gateway) never enters them.
    let (id5, _) = ports.iter().find(|(_, a)| a == "10.9.0.5").unwrap().clone();
    let (id9, _) = ports.iter().find(|(_, a)| a == "10.9.0.9").unwrap().clone();
    n.delete_port(&ctx, &id5).await.unwrap();
    n.delete_port(&ctx, &id9).await.unwrap();
    let (_, nine) = port(&n, &ctx, json!({"network_id": net, "fixed_ips": [{"ip_address": "10.9.0.9"}]})).await;
    assert_eq!(nine, "10.9.0.9");
    let admin = caller("admin-user", "p1", &["admin", "member", "reader"]);
    let (gw, one) =
        port(&n, &admin, json!({"network_id": net, "fixed_ips": [{"subnet_id": sub, "ip_address": "10.9.0.1"}]})).await;
    assert_eq!(one, "10.9.0.1");
    n.delete_port(&admin, &gw).await.unwrap();
    assert_eq!(port(&n, &ctx, json!({"network_id": net})).await.1, "10.9.0.5");
    let full = n.create_port(&ctx, &body(json!({"network_id": net}))).await.unwrap_err();
    assert_eq!(full.kind, "IpAddressGenerationFailure");

    // A port whose addresses change gives the old ones back.
    let (id14, _) = ports.iter().find(|(_, a)| a == "10.9.0.14").unwrap().clone();
    let taken = n.update_port(&ctx, &id14, &body(json!({"fixed_ips": [{"ip_address": "10.9.0.2"}]}))).await;
    assert_eq!(taken.unwrap_err().kind, "IpAddressAlreadyAllocated");
    assert!(n.create_port(&ctx, &body(json!({"network_id": net}))).await.is_err(), "the refused update kept .14");
    let (id3, _) = ports.iter().find(|(_, a)| a == "10.9.0.3").unwrap().clone();
    n.delete_port(&ctx, &id3).await.unwrap();
    let moved = n.update_port(&ctx, &id14, &body(json!({"fixed_ips": [{"ip_address": "10.9.0.3"}]}))).await.unwrap();
    assert_eq!(moved["fixed_ips"][0]["ip_address"], "10.9.0.3");
    assert_eq!(port(&n, &ctx, json!({"network_id": net})).await.1, "10.9.0.14");
}

#[tokio::test]
async fn ports_created_at_once_get_distinct_addresses() {
    let n = network().await;
    let ctx = member();
    let (net, _) = subnet(&n, &ctx, "10.8.0.0/27").await;
    let mut tasks = vec![];
    for _ in 0..24 {
        let (n, ctx, net) = (n.clone(), ctx.clone(), net.clone());
        tasks.push(tokio::spawn(async move { port(&n, &ctx, json!({"network_id": net})).await.1 }));
    }
    let mut given = vec![];
    for t in tasks {
        given.push(t.await.unwrap());
    }
    given.sort_by_key(|a| a.rsplit('.').next().unwrap().parse::<u8>().unwrap());
    let expected: Vec<String> = (2..26).map(|i| format!("10.8.0.{i}")).collect();
    assert_eq!(given, expected);
}

/// The ids of a list answer, and whether it holds one past the page.
fn ids(listed: Listed) -> (Vec<String>, bool) {
    match listed {
        Listed::Page(items) => (items.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect(), true),
        Listed::All(items) => (items.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect(), false),
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn port_lists_are_filtered_ordered_and_paged_in_sql() {
    let n = network().await;
    let ctx = member();
    let (net, _) = subnet(&n, &ctx, "10.7.0.0/24").await;
    let mut made = vec![];
    for i in 0..9 {
        let name = format!("port-{}", i % 3);
        made.push(port(&n, &ctx, json!({"network_id": net, "name": name})).await.0);
    }
    // Another project's port is not listed.
    let other = caller("other-user", "p2", &["member", "reader"]);
    let (other_net, _) = subnet(&n, &other, "10.6.0.0/24").await;
    port(&n, &other, json!({"network_id": other_net})).await;

    // By creation (then id: creation times are to the second), in pages of
    // 4 (one more read to tell a next page).
    let (full, _) = ids(n.list_ports_where(&ctx, &[]).await.unwrap());
    let mut mine = made.clone();
    mine.sort();
    let mut listed = full.clone();
    listed.sort();
    assert_eq!(listed, mine);
    let (first, paged) = ids(n.list_ports_where(&ctx, &query(&[("limit", "4")])).await.unwrap());
    assert!(paged);
    assert_eq!(first, full[..5]);
    let (rest, _) = ids(n.list_ports_where(&ctx, &query(&[("limit", "4"), ("marker", &full[3])])).await.unwrap());
    assert_eq!(rest, full[4..9]);

    // Filters on columns, several values of one as alternatives; sorted by
    // name descending, then id.
    let q = query(&[("name", "port-0"), ("name", "port-2"), ("sort_key", "name"), ("sort_dir", "desc")]);
    let (sorted, _) = ids(n.list_ports_where(&ctx, &q).await.unwrap());
    let mut want: Vec<(String, String)> = made
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(i, id)| (format!("port-{}", i % 3), id.clone()))
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(sorted, want.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    let q = query(&[
        ("name", "port-0"),
        ("name", "port-2"),
        ("sort_key", "name"),
        ("sort_dir", "desc"),
        ("limit", "2"),
        ("marker", &want[2].1),
    ]);
    let (after, _) = ids(n.list_ports_where(&ctx, &q).await.unwrap());
    assert_eq!(after, [want[3].1.clone(), want[4].1.clone(), want[5].1.clone()]);
    let (none, _) = ids(n.list_ports_where(&ctx, &query(&[("admin_state_up", "maybe")])).await.unwrap());
    assert!(none.is_empty());
    let (up, _) = ids(n.list_ports_where(&ctx, &query(&[("admin_state_up", "TRUE")])).await.unwrap());
    assert_eq!(up.len(), 9);

    // A marker the caller may not list is not found.
    let err = n.list_ports_where(&other, &query(&[("marker", &made[0])])).await.err().unwrap();
    assert_eq!(err.status.as_u16(), 404);
    // A filter on what is not a column is left to the generic list.
    let (all, paged) = ids(n.list_ports_where(&ctx, &query(&[("fixed_ips", "ip_address=10.7.0.2")])).await.unwrap());
    assert!(!paged);
    assert_eq!(all.len(), 9);
}

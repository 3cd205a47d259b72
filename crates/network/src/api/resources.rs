//! Each collection as the generic handlers see it.

use std::future::Future;

use serde_json::Value;

use oxistack_core::context::Context;

use crate::attrs::Body;
use crate::{Listed, Network, Result};

pub trait Resource: Send + Sync + 'static {
    /// The body key of one.
    const SINGULAR: &'static str;
    /// The body key of many.
    const PLURAL: &'static str;
    /// The URL path segment.
    const PATH: &'static str;
    /// The table holding its tags.
    const TABLE: &'static str;
    fn list(n: &Network, ctx: &Context) -> impl Future<Output = Result<Vec<Value>>> + Send;
    /// The collection for a list query: everything the caller sees, for the
    /// generic filters, sort and pages to run on, unless the service can
    /// answer the query itself.
    fn list_where(
        n: &Network,
        ctx: &Context,
        query: &[(String, String)],
    ) -> impl Future<Output = Result<Listed>> + Send {
        let _ = query;
        async { Ok(Listed::All(Self::list(n, ctx).await?)) }
    }
    fn show(n: &Network, ctx: &Context, id: &str) -> impl Future<Output = Result<Value>> + Send;
    fn create(n: &Network, ctx: &Context, body: &Body) -> impl Future<Output = Result<Value>> + Send;
    fn update(n: &Network, ctx: &Context, id: &str, body: &Body) -> impl Future<Output = Result<Value>> + Send;
    fn delete(n: &Network, ctx: &Context, id: &str) -> impl Future<Output = Result<()>> + Send;
}

macro_rules! resource {
    ($name:ident, $singular:literal, $plural:literal, $path:literal, $table:literal,
     $list:ident, $show:ident, $create:ident, $update:ident, $delete:ident) => {
        resource!(@ $name, $singular, $plural, $path, $table, $list, $show, $create, $update, $delete, {});
    };
    // A collection that grows, listed in SQL (see `listing`).
    ($name:ident, $singular:literal, $plural:literal, $path:literal, $table:literal,
     $list:ident, $list_where:ident, $show:ident, $create:ident, $update:ident, $delete:ident) => {
        resource!(@ $name, $singular, $plural, $path, $table, $list, $show, $create, $update, $delete, {
            async fn list_where(n: &Network, ctx: &Context, query: &[(String, String)]) -> Result<Listed> {
                n.$list_where(ctx, query).await
            }
        });
    };
    (@ $name:ident, $singular:literal, $plural:literal, $path:literal, $table:literal,
     $list:ident, $show:ident, $create:ident, $update:ident, $delete:ident, { $($extra:tt)* }) => {
        pub struct $name;
        impl Resource for $name {
            const SINGULAR: &'static str = $singular;
            const PLURAL: &'static str = $plural;
            const PATH: &'static str = $path;
            const TABLE: &'static str = $table;
            async fn list(n: &Network, ctx: &Context) -> Result<Vec<Value>> {
                n.$list(ctx).await
            }
            $($extra)*
            async fn show(n: &Network, ctx: &Context, id: &str) -> Result<Value> {
                n.$show(ctx, id).await
            }
            async fn create(n: &Network, ctx: &Context, body: &Body) -> Result<Value> {
                n.$create(ctx, body).await
            }
            async fn update(n: &Network, ctx: &Context, id: &str, body: &Body) -> Result<Value> {
                n.$update(ctx, id, body).await
            }
            async fn delete(n: &Network, ctx: &Context, id: &str) -> Result<()> {
                n.$delete(ctx, id).await
            }
        }
    };
}

resource!(
    Networks,
    "network",
    "networks",
    "networks",
    "networks",
    list_networks,
    list_networks_where,
    show_network,
    create_network,
    update_network,
    delete_network
);
resource!(
    Subnets,
    "subnet",
    "subnets",
    "subnets",
    "subnets",
    list_subnets,
    show_subnet,
    create_subnet,
    update_subnet,
    delete_subnet
);
resource!(
    Ports,
    "port",
    "ports",
    "ports",
    "ports",
    list_ports,
    list_ports_where,
    show_port,
    create_port,
    update_port,
    delete_port
);
resource!(
    Routers,
    "router",
    "routers",
    "routers",
    "routers",
    list_routers,
    show_router,
    create_router,
    update_router,
    delete_router
);
resource!(
    FloatingIps,
    "floatingip",
    "floatingips",
    "floatingips",
    "floatingips",
    list_floating_ips,
    show_floating_ip,
    create_floating_ip,
    update_floating_ip,
    delete_floating_ip
);
resource!(
    SecurityGroups,
    "security_group",
    "security_groups",
    "security-groups",
    "security_groups",
    list_security_groups,
    show_security_group,
    create_security_group,
    update_security_group,
    delete_security_group
);
resource!(
    Rules,
    "security_group_rule",
    "security_group_rules",
    "security-group-rules",
    "security_group_rules",
    list_rules,
    show_rule,
    create_rule,
    update_rule,
    delete_rule
);
resource!(
    SubnetPools,
    "subnetpool",
    "subnetpools",
    "subnetpools",
    "subnetpools",
    list_subnetpools,
    show_subnetpool,
    create_subnetpool,
    update_subnetpool,
    delete_subnetpool
);

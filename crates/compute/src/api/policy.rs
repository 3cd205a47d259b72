//! Which of Nova's policy rules each route answers to, enforced before the
//! handler runs (`POST /servers/{id}/action` enforces the rule of its action
//! in `actions.rs`). A route missing here is for admins only, so a new route
//! fails closed until its rule is named.

use axum::extract::{MatchedPath, RawPathParams, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use oxistack_core::middleware::Auth;
use oxistack_core::policy::{self, Target};

use super::NovaFault;

/// The rule of `method` on `route` (the route as written in `router()`);
/// `None` for routes that need no token or decide their rule themselves.
pub fn route_rule(method: &Method, route: &str) -> Option<&'static str> {
    let m = method.as_str();
    Some(match (m, route) {
        (_, "/" | "/v2.1") => return None,
        ("POST", "/v2.1/servers/{id}/action") => return None,
        ("GET", "/v2.1/servers") => "os_compute_api:servers:index",
        ("GET", "/v2.1/servers/detail") => "os_compute_api:servers:detail",
        ("POST", "/v2.1/servers") => "os_compute_api:servers:create",
        ("GET", "/v2.1/servers/{id}") => "os_compute_api:servers:show",
        ("PUT", "/v2.1/servers/{id}") => "os_compute_api:servers:update",
        ("DELETE", "/v2.1/servers/{id}") => "os_compute_api:servers:delete",
        ("GET", "/v2.1/servers/{id}/diagnostics") => "os_compute_api:os-server-diagnostics",
        ("POST", "/v2.1/servers/{id}/remote-consoles") => "os_compute_api:os-remote-consoles",
        ("GET", "/v2.1/servers/{id}/os-interface") => "os_compute_api:os-attach-interfaces:list",
        ("POST", "/v2.1/servers/{id}/os-interface") => "os_compute_api:os-attach-interfaces:create",
        ("GET", "/v2.1/servers/{id}/os-interface/{port}") => "os_compute_api:os-attach-interfaces:show",
        ("DELETE", "/v2.1/servers/{id}/os-interface/{port}") => "os_compute_api:os-attach-interfaces:delete",
        ("GET", "/v2.1/servers/{id}/os-volume_attachments") => "os_compute_api:os-volumes-attachments:index",
        ("POST", "/v2.1/servers/{id}/os-volume_attachments") => "os_compute_api:os-volumes-attachments:create",
        ("GET", "/v2.1/servers/{id}/os-volume_attachments/{volume}") => "os_compute_api:os-volumes-attachments:show",
        ("PUT", "/v2.1/servers/{id}/os-volume_attachments/{volume}") => "os_compute_api:os-volumes-attachments:update",
        ("DELETE", "/v2.1/servers/{id}/os-volume_attachments/{volume}") => {
            "os_compute_api:os-volumes-attachments:delete"
        }
        ("GET", "/v2.1/servers/{id}/os-instance-actions") => "os_compute_api:os-instance-actions:list",
        ("GET", "/v2.1/servers/{id}/os-instance-actions/{request_id}") => "os_compute_api:os-instance-actions:show",
        ("GET", "/v2.1/servers/{id}/metadata") => "os_compute_api:server-metadata:index",
        ("POST", "/v2.1/servers/{id}/metadata") => "os_compute_api:server-metadata:create",
        ("PUT", "/v2.1/servers/{id}/metadata") => "os_compute_api:server-metadata:update_all",
        ("GET", "/v2.1/servers/{id}/metadata/{key}") => "os_compute_api:server-metadata:show",
        ("PUT", "/v2.1/servers/{id}/metadata/{key}") => "os_compute_api:server-metadata:update",
        ("DELETE", "/v2.1/servers/{id}/metadata/{key}") => "os_compute_api:server-metadata:delete",
        ("GET", "/v2.1/servers/{id}/tags") => "os_compute_api:os-server-tags:index",
        ("PUT", "/v2.1/servers/{id}/tags") => "os_compute_api:os-server-tags:update_all",
        ("DELETE", "/v2.1/servers/{id}/tags") => "os_compute_api:os-server-tags:delete_all",
        ("GET", "/v2.1/servers/{id}/tags/{tag}") => "os_compute_api:os-server-tags:show",
        ("PUT", "/v2.1/servers/{id}/tags/{tag}") => "os_compute_api:os-server-tags:update",
        ("DELETE", "/v2.1/servers/{id}/tags/{tag}") => "os_compute_api:os-server-tags:delete",
        ("GET", "/v2.1/flavors" | "/v2.1/flavors/detail" | "/v2.1/flavors/{id}") => "os_compute_api:flavors",
        ("POST", "/v2.1/flavors") => "os_compute_api:os-flavor-manage:create",
        ("DELETE", "/v2.1/flavors/{id}") => "os_compute_api:os-flavor-manage:delete",
        ("POST", "/v2.1/flavors/{id}/action") => "os_compute_api:os-flavor-access:add_tenant_access",
        ("GET", "/v2.1/flavors/{id}/os-flavor-access") => "os_compute_api:os-flavor-access",
        ("GET", "/v2.1/flavors/{id}/os-extra_specs") => "os_compute_api:os-flavor-extra-specs:index",
        ("POST", "/v2.1/flavors/{id}/os-extra_specs") => "os_compute_api:os-flavor-extra-specs:create",
        ("GET", "/v2.1/flavors/{id}/os-extra_specs/{key}") => "os_compute_api:os-flavor-extra-specs:show",
        ("PUT", "/v2.1/flavors/{id}/os-extra_specs/{key}") => "os_compute_api:os-flavor-extra-specs:update",
        ("DELETE", "/v2.1/flavors/{id}/os-extra_specs/{key}") => "os_compute_api:os-flavor-extra-specs:delete",
        // The image proxy: the Image service's own rules decide.
        (_, "/v2.1/images" | "/v2.1/images/detail" | "/v2.1/images/{id}") => "os_compute_api:images",
        (_, "/v2.1/images/{id}/metadata" | "/v2.1/images/{id}/metadata/{key}") => "os_compute_api:images",
        ("GET", "/v2.1/limits") => "os_compute_api:limits",
        ("GET", "/v2.1/os-availability-zone") => "os_compute_api:os-availability-zone:list",
        ("GET", "/v2.1/os-availability-zone/detail") => "os_compute_api:os-availability-zone:detail",
        ("GET", "/v2.1/os-aggregates") => "os_compute_api:os-aggregates:index",
        ("POST", "/v2.1/os-aggregates") => "os_compute_api:os-aggregates:create",
        ("GET", "/v2.1/os-aggregates/{id}") => "os_compute_api:os-aggregates:show",
        ("PUT", "/v2.1/os-aggregates/{id}") => "os_compute_api:os-aggregates:update",
        ("DELETE", "/v2.1/os-aggregates/{id}") => "os_compute_api:os-aggregates:delete",
        ("POST", "/v2.1/os-aggregates/{id}/action") => "os_compute_api:os-aggregates:set_metadata",
        ("GET", "/v2.1/os-hypervisors") => "os_compute_api:os-hypervisors:list",
        ("GET", "/v2.1/os-hypervisors/detail") => "os_compute_api:os-hypervisors:list-detail",
        ("GET", "/v2.1/os-hypervisors/statistics") => "os_compute_api:os-hypervisors:statistics",
        ("GET", "/v2.1/os-hypervisors/{id}") => "os_compute_api:os-hypervisors:show",
        ("GET", "/v2.1/os-keypairs") => "os_compute_api:os-keypairs:index",
        ("POST", "/v2.1/os-keypairs") => "os_compute_api:os-keypairs:create",
        ("GET", "/v2.1/os-keypairs/{name}") => "os_compute_api:os-keypairs:show",
        ("DELETE", "/v2.1/os-keypairs/{name}") => "os_compute_api:os-keypairs:delete",
        ("GET", "/v2.1/os-quota-sets/{project}") => "os_compute_api:os-quota-sets:show",
        ("PUT", "/v2.1/os-quota-sets/{project}") => "os_compute_api:os-quota-sets:update",
        ("DELETE", "/v2.1/os-quota-sets/{project}") => "os_compute_api:os-quota-sets:delete",
        ("GET", "/v2.1/os-quota-sets/{project}/defaults") => "os_compute_api:os-quota-sets:defaults",
        ("GET", "/v2.1/os-quota-sets/{project}/detail") => "os_compute_api:os-quota-sets:detail",
        ("GET", "/v2.1/os-quota-class-sets/{class}") => "os_compute_api:os-quota-class-sets:show",
        ("PUT", "/v2.1/os-quota-class-sets/{class}") => "os_compute_api:os-quota-class-sets:update",
        ("GET", "/v2.1/os-security-groups") => "os_compute_api:os-security-groups:get",
        ("POST", "/v2.1/os-security-groups") => "os_compute_api:os-security-groups:create",
        ("GET", "/v2.1/os-security-groups/{id}") => "os_compute_api:os-security-groups:show",
        ("PUT", "/v2.1/os-security-groups/{id}") => "os_compute_api:os-security-groups:update",
        ("DELETE", "/v2.1/os-security-groups/{id}") => "os_compute_api:os-security-groups:delete",
        ("POST", "/v2.1/os-security-group-rules") => "os_compute_api:os-security-groups:rule:create",
        ("DELETE", "/v2.1/os-security-group-rules/{id}") => "os_compute_api:os-security-groups:rule:delete",
        ("GET", "/v2.1/servers/{id}/os-security-groups") => "os_compute_api:os-security-groups:list",
        ("GET", "/v2.1/os-server-groups") => "os_compute_api:os-server-groups:index",
        ("POST", "/v2.1/os-server-groups") => "os_compute_api:os-server-groups:create",
        ("GET", "/v2.1/os-server-groups/{id}") => "os_compute_api:os-server-groups:show",
        ("DELETE", "/v2.1/os-server-groups/{id}") => "os_compute_api:os-server-groups:delete",
        ("GET", "/v2.1/os-services") => "os_compute_api:os-services:list",
        ("GET", "/v2.1/os-simple-tenant-usage") => "os_compute_api:os-simple-tenant-usage:list",
        ("GET", "/v2.1/os-simple-tenant-usage/{project}") => "os_compute_api:os-simple-tenant-usage:show",
        _ => "unmapped compute route",
    })
}

/// The route layer: the caller must pass the route's rule, on the project
/// the path names (quotas, usage) or else its own; what belongs to another
/// project is then found or not by the handler, which answers 404 for it.
pub async fn enforce_route(params: RawPathParams, req: Request, next: Next) -> Response {
    let Ok(ctx) = Auth::caller(req.extensions()) else {
        // The handler answers 401, or serves what needs no token.
        return next.run(req).await;
    };
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str()).unwrap_or_default();
    let route = route.find("/v2.1").map_or(route, |at| &route[at..]);
    let Some(rule) = route_rule(req.method(), route) else {
        return next.run(req).await;
    };
    let project = params.iter().find(|(k, _)| *k == "project").map(|(_, v)| v);
    let target = match project {
        Some(p) => Target::project(p),
        None => Target::caller(&ctx),
    };
    if let Err(e) = policy::enforce(&ctx, rule, &target) {
        return NovaFault(e).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_named_here_is_in_the_policy_table() {
        let source = include_str!("policy.rs");
        for rule in source.split('"').filter(|s| s.starts_with("os_compute_api:") && s.len() > "os_compute_api:".len())
        {
            assert!(policy::rule(rule).is_some(), "{rule} is not in core::policy's table");
        }
        let actions = include_str!("actions.rs");
        for rule in actions.split('"').filter(|s| s.starts_with("os_compute_api:") && s.len() > "os_compute_api:".len())
        {
            assert!(policy::rule(rule).is_some(), "{rule} is not in core::policy's table");
        }
    }
}

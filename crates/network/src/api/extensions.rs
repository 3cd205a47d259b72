//! What is not a plain collection: extensions, availability zones, quotas,
//! IP availability and the auto-allocated topology.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{object, ApiState, Caller};
use crate::{NeutronError, Result};

/// The extensions served, as (alias, name, description). Clients look for
/// these before using a feature; `external-gateway-multihoming` is left out
/// on purpose (clients would switch to a gateway API not served).
const EXTENSIONS: &[(&str, &str, &str)] = &[
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("auto-allocated-topology", "Auto Allocated Topology Services", "Auto Allocated Topology Services."),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("empty-string-filtering", "Empty String Filtering Extension", "Allow filtering by attributes with empty string value"),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota-check-limit", "Quota engine limit check", "Support for checking the resource usage before applying a new quota limit"),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
    ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
    ("security-group", "security-group", "The security groups extension."),
    ("security-groups-normalized-cidr", "Security Group Rule normalized CIDR", "Add new field with normalized remote_ip_prefix cidr in SG rule"),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
    ("tag-ports-during-bulk-creation", "Tag Ports During Bulk Creation", "Allow to tag ports during bulk creation"),
];

fn extension(alias: &str, name: &str, description: &str) -> Value {
    json!({"alias": alias, "name": name, "description": description,
           "updated": "2024-01-01T10:00:00-00:00", "links": []})
}

pub async fn list(Caller(_): Caller) -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(|(a, n, d)| extension(a, n, d)).collect::<Vec<_>>()}))
}

pub async fn show(Caller(_): Caller, Path(alias): Path<String>) -> Result<Json<Value>> {
    let (a, n, d) = EXTENSIONS.iter().find(|(a, _, _)| *a == alias).ok_or_else(|| {
        NeutronError::not_found("HTTPNotFound", format!("Extension with alias {alias} does not exist"))
    })?;
    Ok(Json(json!({"extension": extension(a, n, d)})))
}

pub async fn availability_zones(Caller(_): Caller) -> Json<Value> {
    Json(json!({"availability_zones": [
        {"name": "nova", "resource": "network", "state": "available"},
        {"name": "nova", "resource": "router", "state": "available"},
    ]}))
}

pub async fn list_quotas(State(api): ApiState, Caller(ctx): Caller) -> Result<Json<Value>> {
    if !ctx.is_admin() {
        return Err(NeutronError::policy("get", "quota"));
    }
    let projects = api.network.projects_with_quotas().await?;
    let mut out = vec![];
    for p in projects {
        let mut q = json!(api.network.quota(&p).await?);
        q["project_id"] = json!(p);
        q["tenant_id"] = json!(p);
        out.push(q);
    }
    Ok(Json(json!({ "quotas": out })))
}

pub async fn show_quota(State(api): ApiState, Caller(ctx): Caller, Path(project): Path<String>) -> Result<Json<Value>> {
    Ok(Json(json!({"quota": api.network.show_quota(&ctx, &project).await?})))
}

pub async fn default_quota(Caller(_): Caller, Path(_project): Path<String>) -> Json<Value> {
    let q: serde_json::Map<String, Value> =
        crate::quotas::DEFAULTS.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    Json(json!({ "quota": q }))
}

pub async fn update_quota(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(project): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    let body = match object(&body)?.remove("quota") {
        Some(Value::Object(o)) => o,
        _ => return Err(NeutronError::bad_request("Resource body required: 'quota' not found in the request.")),
    };
    Ok(Json(json!({"quota": api.network.update_quota(&ctx, &project, &body).await?})))
}

pub async fn reset_quota(State(api): ApiState, Caller(ctx): Caller, Path(project): Path<String>) -> Result<StatusCode> {
    api.network.reset_quota(&ctx, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn ip_availabilities(State(api): ApiState, Caller(ctx): Caller) -> Result<Json<Value>> {
    Ok(Json(json!({"network_ip_availabilities": api.network.ip_availabilities(&ctx).await?})))
}

pub async fn ip_availability(State(api): ApiState, Caller(ctx): Caller, Path(id): Path<String>) -> Result<Json<Value>> {
    let found = api.network.ip_availabilities(&ctx).await?.into_iter().find(|a| a["network_id"] == id.as_str());
    let a = found.ok_or_else(|| crate::networks::network_not_found(&id))?;
    Ok(Json(json!({ "network_ip_availability": a })))
}

pub async fn auto_allocated_topology(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(project): Path<String>,
) -> Result<Json<Value>> {
    let network = api.network.auto_allocate(&ctx, &project).await?;
    Ok(Json(json!({"auto_allocated_topology": {"id": network, "project_id": project, "tenant_id": project}})))
}

pub async fn delete_auto_allocated_topology(
    State(api): ApiState,
    Caller(ctx): Caller,
    Path(project): Path<String>,
) -> Result<StatusCode> {
    api.network.delete_auto_allocated(&ctx, &project).await?;
    Ok(StatusCode::NO_CONTENT)
}

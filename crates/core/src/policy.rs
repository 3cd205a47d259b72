//! Upstream's default policies for every service as one table: each rule
//! under the name its service gives it (`os_compute_api:servers:create`,
//! `create_network`, `add_image`, `identity:list_users`), mapped to one of
//! the personas every OpenStack service now defaults to: `reader` reads its
//! project, `member` changes its project, `admin` administers the cloud, and
//! Keystone's readers of the system or of a domain. Services call
//! [`enforce`] with the rule and the target; a refusal is a 403 naming the
//! rule in the words of that service.
//!
//! Visibility stays the services' own: a resource of another project is
//! 404 before any rule is asked about it, as upstream's lookups scoped to the
//! caller's project answer.

use crate::context::Context;
use crate::error::{Error, Result};

/// The check a rule stands for, in oslo.policy's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// `@`: any authenticated caller.
    Any,
    /// `role:admin`.
    Admin,
    /// `role:admin or (role:reader and project_id:%(project_id)s)`.
    ProjectReader,
    /// `role:admin or (role:member and project_id:%(project_id)s)`.
    ProjectMember,
    /// `role:admin or user_id:%(user_id)s` (Nova's keypairs).
    Owner,
    /// `user_id:%(user_id)s` alone: the target user itself, admins not
    /// excepted (Keystone's application credentials).
    User,
    /// Keystone's reader: `role:admin or (role:reader and system_scope:all)
    /// or (role:reader and domain_id:%(target.domain_id)s)`.
    DomainReader,
    /// As [`Check::DomainReader`], or the target is the caller's own (the
    /// user itself, the project of its token).
    DomainReaderOrOwner,
}

/// Which service a rule belongs to: how its refusal is worded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Compute,
    Network,
    Image,
    Identity,
    BlockStorage,
}

/// What a rule is checked against: the owner of the thing acted on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'a> {
    pub project_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    /// The domain of an Identity resource.
    pub domain_id: Option<&'a str>,
    /// The caller owns the target, as the service decided (Keystone's
    /// `rule:owner` and project users).
    pub owned: bool,
}

impl<'a> Target<'a> {
    /// Something of `project`.
    pub fn project(project: &'a str) -> Self {
        Target { project_id: Some(project), ..Default::default() }
    }

    /// Something of the caller's own project and user (a create, a list).
    pub fn caller(ctx: &'a Context) -> Self {
        Target { project_id: ctx.project_id(), user_id: Some(&ctx.user_id), ..Default::default() }
    }

    pub fn user(user: &'a str) -> Self {
        Target { user_id: Some(user), ..Default::default() }
    }
}

impl Check {
    pub fn allows(self, ctx: &Context, target: &Target) -> bool {
        let in_project = ctx.project_id().is_some() && target.project_id == ctx.project_id();
        match self {
            Check::Any => true,
            Check::Admin => ctx.is_admin(),
            Check::ProjectReader => ctx.is_admin() || (in_project && ctx.has_role("reader")),
            Check::ProjectMember => ctx.is_admin() || (in_project && ctx.has_role("member")),
            Check::Owner => ctx.is_admin() || target.user_id == Some(ctx.user_id.as_str()),
            Check::User => target.user_id == Some(ctx.user_id.as_str()),
            Check::DomainReader => reads_domain(ctx, target.domain_id),
            Check::DomainReaderOrOwner => target.owned || reads_domain(ctx, target.domain_id),
        }
    }
}

/// Keystone's readers: admins, system readers, and readers of `domain`.
fn reads_domain(ctx: &Context, domain: Option<&str>) -> bool {
    if ctx.is_admin() || (ctx.is_system() && ctx.has_role("reader")) {
        return true;
    }
    match (ctx.domain_id(), domain) {
        (Some(mine), Some(target)) => mine == target && ctx.has_role("reader"),
        _ => false,
    }
}

use Check::{Admin, Any, DomainReader as DReader, DomainReaderOrOwner as DOwner, Owner, User};
use Check::{ProjectMember as Member, ProjectReader as Reader};
use Service::{BlockStorage as Volume, Compute, Identity, Image, Network};

/// Every rule served, as upstream's defaults (`nova/policies/`,
/// `neutron/conf/policies/`, `glance/policies/`, `cinder/policies/`) set
/// them.
const RULES: &[(&str, Service, Check)] = &[
    // Compute: servers and their sub-resources.
    ("os_compute_api:servers:index", Compute, Reader),
    ("os_compute_api:servers:detail", Compute, Reader),
    ("os_compute_api:servers:index:get_all_tenants", Compute, Admin),
    ("os_compute_api:servers:detail:get_all_tenants", Compute, Admin),
    ("os_compute_api:servers:show", Compute, Reader),
    ("os_compute_api:servers:create", Compute, Member),
    ("os_compute_api:servers:create:attach_network", Compute, Member),
    ("os_compute_api:servers:update", Compute, Member),
    ("os_compute_api:servers:delete", Compute, Member),
    ("os_compute_api:servers:start", Compute, Member),
    ("os_compute_api:servers:stop", Compute, Member),
    ("os_compute_api:servers:reboot", Compute, Member),
    ("os_compute_api:servers:rebuild", Compute, Member),
    ("os_compute_api:servers:resize", Compute, Member),
    ("os_compute_api:servers:confirm_resize", Compute, Member),
    ("os_compute_api:servers:revert_resize", Compute, Member),
    ("os_compute_api:servers:create_image", Compute, Member),
    ("os_compute_api:os-pause-server:pause", Compute, Member),
    ("os_compute_api:os-pause-server:unpause", Compute, Member),
    ("os_compute_api:os-suspend-server:suspend", Compute, Member),
    ("os_compute_api:os-suspend-server:resume", Compute, Member),
    ("os_compute_api:os-rescue", Compute, Member),
    ("os_compute_api:os-unrescue", Compute, Member),
    ("os_compute_api:os-shelve:shelve", Compute, Member),
    ("os_compute_api:os-shelve:shelve_offload", Compute, Admin),
    ("os_compute_api:os-shelve:unshelve", Compute, Member),
    ("os_compute_api:os-console-output", Compute, Member),
    ("os_compute_api:os-remote-consoles", Compute, Member),
    ("os_compute_api:os-admin-password", Compute, Member),
    ("os_compute_api:os-lock-server:lock", Compute, Member),
    ("os_compute_api:os-lock-server:unlock", Compute, Member),
    ("os_compute_api:os-lock-server:unlock:unlock_override", Compute, Admin),
    ("os_compute_api:os-deferred-delete:force", Compute, Member),
    ("os_compute_api:os-deferred-delete:restore", Compute, Member),
    ("os_compute_api:os-migrate-server:migrate", Compute, Admin),
    ("os_compute_api:os-migrate-server:migrate_live", Compute, Admin),
    ("os_compute_api:os-evacuate", Compute, Admin),
    ("os_compute_api:os-server-diagnostics", Compute, Admin),
    ("os_compute_api:os-attach-interfaces:list", Compute, Reader),
    ("os_compute_api:os-attach-interfaces:show", Compute, Reader),
    ("os_compute_api:os-attach-interfaces:create", Compute, Member),
    ("os_compute_api:os-attach-interfaces:delete", Compute, Member),
    ("os_compute_api:os-volumes-attachments:index", Compute, Reader),
    ("os_compute_api:os-volumes-attachments:show", Compute, Reader),
    ("os_compute_api:os-volumes-attachments:create", Compute, Member),
    ("os_compute_api:os-volumes-attachments:update", Compute, Member),
    ("os_compute_api:os-volumes-attachments:swap", Compute, Admin),
    ("os_compute_api:os-volumes-attachments:delete", Compute, Member),
    ("os_compute_api:os-instance-actions:list", Compute, Reader),
    ("os_compute_api:os-instance-actions:show", Compute, Reader),
    ("os_compute_api:os-instance-actions:events", Compute, Admin),
    ("os_compute_api:server-metadata:index", Compute, Reader),
    ("os_compute_api:server-metadata:show", Compute, Reader),
    ("os_compute_api:server-metadata:create", Compute, Member),
    ("os_compute_api:server-metadata:update_all", Compute, Member),
    ("os_compute_api:server-metadata:update", Compute, Member),
    ("os_compute_api:server-metadata:delete", Compute, Member),
    ("os_compute_api:os-server-tags:index", Compute, Reader),
    ("os_compute_api:os-server-tags:show", Compute, Reader),
    ("os_compute_api:os-server-tags:update", Compute, Member),
    ("os_compute_api:os-server-tags:update_all", Compute, Member),
    ("os_compute_api:os-server-tags:delete", Compute, Member),
    ("os_compute_api:os-server-tags:delete_all", Compute, Member),
    // Compute: what belongs to a user, or to nobody.
    ("os_compute_api:os-security-groups:get", Compute, Reader),
    ("os_compute_api:os-security-groups:show", Compute, Reader),
    ("os_compute_api:os-security-groups:create", Compute, Member),
    ("os_compute_api:os-security-groups:update", Compute, Member),
    ("os_compute_api:os-security-groups:delete", Compute, Member),
    ("os_compute_api:os-security-groups:rule:create", Compute, Member),
    ("os_compute_api:os-security-groups:rule:delete", Compute, Member),
    ("os_compute_api:os-security-groups:list", Compute, Reader),
    ("os_compute_api:os-security-groups:add", Compute, Member),
    ("os_compute_api:os-security-groups:remove", Compute, Member),
    ("os_compute_api:os-keypairs:index", Compute, Owner),
    ("os_compute_api:os-keypairs:show", Compute, Owner),
    ("os_compute_api:os-keypairs:create", Compute, Owner),
    ("os_compute_api:os-keypairs:delete", Compute, Owner),
    ("os_compute_api:os-server-groups:index", Compute, Reader),
    ("os_compute_api:os-server-groups:index:all_projects", Compute, Admin),
    ("os_compute_api:os-server-groups:show", Compute, Reader),
    ("os_compute_api:os-server-groups:create", Compute, Member),
    ("os_compute_api:os-server-groups:delete", Compute, Member),
    ("os_compute_api:flavors", Compute, Any),
    ("os_compute_api:os-flavor-manage:create", Compute, Admin),
    ("os_compute_api:os-flavor-manage:update", Compute, Admin),
    ("os_compute_api:os-flavor-manage:delete", Compute, Admin),
    ("os_compute_api:os-flavor-extra-specs:index", Compute, Any),
    ("os_compute_api:os-flavor-extra-specs:show", Compute, Any),
    ("os_compute_api:os-flavor-extra-specs:create", Compute, Admin),
    ("os_compute_api:os-flavor-extra-specs:update", Compute, Admin),
    ("os_compute_api:os-flavor-extra-specs:delete", Compute, Admin),
    ("os_compute_api:os-flavor-access", Compute, Admin),
    ("os_compute_api:os-flavor-access:add_tenant_access", Compute, Admin),
    ("os_compute_api:os-flavor-access:remove_tenant_access", Compute, Admin),
    ("os_compute_api:limits", Compute, Any),
    ("os_compute_api:limits:other_project", Compute, Admin),
    ("os_compute_api:os-availability-zone:list", Compute, Any),
    ("os_compute_api:os-availability-zone:detail", Compute, Admin),
    ("os_compute_api:os-aggregates:index", Compute, Admin),
    ("os_compute_api:os-aggregates:create", Compute, Admin),
    ("os_compute_api:os-aggregates:show", Compute, Admin),
    ("os_compute_api:os-aggregates:update", Compute, Admin),
    ("os_compute_api:os-aggregates:delete", Compute, Admin),
    ("os_compute_api:os-aggregates:add_host", Compute, Admin),
    ("os_compute_api:os-aggregates:remove_host", Compute, Admin),
    ("os_compute_api:os-aggregates:set_metadata", Compute, Admin),
    ("os_compute_api:os-hypervisors:list", Compute, Admin),
    ("os_compute_api:os-hypervisors:list-detail", Compute, Admin),
    ("os_compute_api:os-hypervisors:show", Compute, Admin),
    ("os_compute_api:os-hypervisors:statistics", Compute, Admin),
    ("os_compute_api:os-services:list", Compute, Admin),
    ("os_compute_api:os-quota-sets:show", Compute, Reader),
    ("os_compute_api:os-quota-sets:detail", Compute, Reader),
    ("os_compute_api:os-quota-sets:defaults", Compute, Any),
    ("os_compute_api:os-quota-sets:update", Compute, Admin),
    ("os_compute_api:os-quota-sets:delete", Compute, Admin),
    ("os_compute_api:os-quota-class-sets:show", Compute, Admin),
    ("os_compute_api:os-quota-class-sets:update", Compute, Admin),
    ("os_compute_api:os-simple-tenant-usage:list", Compute, Admin),
    ("os_compute_api:os-simple-tenant-usage:show", Compute, Reader),
    ("os_compute_api:images", Compute, Any),
    ("network:attach_external_network", Compute, Admin),
    // Network.
    ("create_network", Network, Member),
    ("get_network", Network, Reader),
    ("update_network", Network, Member),
    ("delete_network", Network, Member),
    ("create_subnet", Network, Member),
    ("get_subnet", Network, Reader),
    ("update_subnet", Network, Member),
    ("delete_subnet", Network, Member),
    ("create_port", Network, Member),
    ("get_port", Network, Reader),
    ("update_port", Network, Member),
    ("delete_port", Network, Member),
    ("create_router", Network, Member),
    ("get_router", Network, Reader),
    ("update_router", Network, Member),
    ("delete_router", Network, Member),
    ("add_router_interface", Network, Member),
    ("remove_router_interface", Network, Member),
    ("create_floatingip", Network, Member),
    ("get_floatingip", Network, Reader),
    ("update_floatingip", Network, Member),
    ("delete_floatingip", Network, Member),
    ("create_security_group", Network, Member),
    ("get_security_group", Network, Reader),
    ("update_security_group", Network, Member),
    ("delete_security_group", Network, Member),
    ("create_security_group_rule", Network, Member),
    ("get_security_group_rule", Network, Reader),
    ("update_security_group_rule", Network, Member),
    ("delete_security_group_rule", Network, Member),
    ("create_subnetpool", Network, Member),
    ("get_subnetpool", Network, Reader),
    ("update_subnetpool", Network, Member),
    ("delete_subnetpool", Network, Member),
    ("get_quota", Network, Reader),
    ("update_quota", Network, Admin),
    ("delete_quota", Network, Admin),
    ("get_network_ip_availability", Network, Admin),
    ("get_auto_allocated_topology", Network, Member),
    ("delete_auto_allocated_topology", Network, Member),
    ("get_networks_tags", Network, Reader),
    ("create_networks_tags", Network, Member),
    ("update_networks_tags", Network, Member),
    ("delete_networks_tags", Network, Member),
    ("get_subnets_tags", Network, Reader),
    ("create_subnets_tags", Network, Member),
    ("update_subnets_tags", Network, Member),
    ("delete_subnets_tags", Network, Member),
    ("get_ports_tags", Network, Reader),
    ("create_ports_tags", Network, Member),
    ("update_ports_tags", Network, Member),
    ("delete_ports_tags", Network, Member),
    ("get_routers_tags", Network, Reader),
    ("create_routers_tags", Network, Member),
    ("update_routers_tags", Network, Member),
    ("delete_routers_tags", Network, Member),
    ("get_floatingips_tags", Network, Reader),
    ("create_floatingips_tags", Network, Member),
    ("update_floatingips_tags", Network, Member),
    ("delete_floatingips_tags", Network, Member),
    ("get_security_groups_tags", Network, Reader),
    ("create_security_groups_tags", Network, Member),
    ("update_security_groups_tags", Network, Member),
    ("delete_security_groups_tags", Network, Member),
    ("get_security_group_rules_tags", Network, Reader),
    ("create_security_group_rules_tags", Network, Member),
    ("update_security_group_rules_tags", Network, Member),
    ("delete_security_group_rules_tags", Network, Member),
    ("get_subnetpools_tags", Network, Reader),
    ("create_subnetpools_tags", Network, Member),
    ("update_subnetpools_tags", Network, Member),
    ("delete_subnetpools_tags", Network, Member),
    // Identity (`keystone/common/policies/`); rules a handler names with
    // the target's domain, or whether the caller owns it.
    ("identity:add_user_to_group", Identity, Admin),
    ("identity:create_domain", Identity, Admin),
    ("identity:create_endpoint", Identity, Admin),
    ("identity:create_grant", Identity, Admin),
    ("identity:create_group", Identity, Admin),
    ("identity:create_implied_role", Identity, Admin),
    ("identity:create_project", Identity, Admin),
    ("identity:create_project_tag", Identity, Admin),
    ("identity:create_region", Identity, Admin),
    ("identity:create_role", Identity, Admin),
    ("identity:create_service", Identity, Admin),
    ("identity:create_user", Identity, Admin),
    ("identity:delete_domain", Identity, Admin),
    ("identity:delete_endpoint", Identity, Admin),
    ("identity:delete_group", Identity, Admin),
    ("identity:delete_implied_role", Identity, Admin),
    ("identity:delete_project", Identity, Admin),
    ("identity:delete_project_tag", Identity, Admin),
    ("identity:delete_project_tags", Identity, Admin),
    ("identity:delete_region", Identity, Admin),
    ("identity:delete_role", Identity, Admin),
    ("identity:delete_service", Identity, Admin),
    ("identity:delete_user", Identity, Admin),
    ("identity:remove_user_from_group", Identity, Admin),
    ("identity:revoke_grant", Identity, Admin),
    ("identity:update_domain", Identity, Admin),
    ("identity:update_endpoint", Identity, Admin),
    ("identity:update_group", Identity, Admin),
    ("identity:update_project", Identity, Admin),
    ("identity:update_project_tags", Identity, Admin),
    ("identity:update_region", Identity, Admin),
    ("identity:update_role", Identity, Admin),
    ("identity:update_service", Identity, Admin),
    ("identity:update_user", Identity, Admin),
    ("identity:check_grant", Identity, DReader),
    ("identity:list_grants", Identity, DReader),
    ("identity:list_services", Identity, DReader),
    ("identity:list_roles", Identity, DReader),
    ("identity:list_role_inference_rules", Identity, DReader),
    ("identity:list_implied_roles", Identity, DReader),
    ("identity:list_endpoints", Identity, DReader),
    ("identity:get_service", Identity, DReader),
    ("identity:get_role", Identity, DReader),
    ("identity:get_implied_role", Identity, DReader),
    ("identity:get_endpoint", Identity, DReader),
    ("identity:list_users", Identity, DReader),
    ("identity:list_role_assignments", Identity, DReader),
    ("identity:list_projects", Identity, DReader),
    ("identity:list_groups", Identity, DReader),
    ("identity:list_domains", Identity, DReader),
    ("identity:get_group", Identity, DReader),
    ("identity:list_users_in_group", Identity, DReader),
    ("identity:check_user_in_group", Identity, DReader),
    ("identity:get_user", Identity, DOwner),
    ("identity:get_project", Identity, DOwner),
    ("identity:get_project_tag", Identity, DOwner),
    ("identity:get_project_tags", Identity, DOwner),
    ("identity:get_domain", Identity, DOwner),
    ("identity:list_user_projects", Identity, DOwner),
    ("identity:list_groups_for_user", Identity, DOwner),
    ("identity:list_application_credentials", Identity, DOwner),
    ("identity:get_application_credential", Identity, DOwner),
    ("identity:delete_application_credential", Identity, Owner),
    ("identity:create_application_credential", Identity, User),
    ("identity:get_credential", Identity, DOwner),
    ("identity:list_credentials", Identity, DOwner),
    ("identity:create_credential", Identity, Owner),
    ("identity:update_credential", Identity, Owner),
    ("identity:delete_credential", Identity, Owner),
    ("identity:ec2_get_credential", Identity, DOwner),
    ("identity:ec2_list_credentials", Identity, DOwner),
    ("identity:ec2_create_credential", Identity, Owner),
    ("identity:ec2_delete_credential", Identity, Owner),
    ("identity:check_token", Identity, DOwner),
    ("identity:validate_token", Identity, DOwner),
    ("identity:revoke_token", Identity, DOwner),
    // Image.
    ("get_images", Image, Reader),
    ("get_image", Image, Reader),
    ("add_image", Image, Member),
    ("modify_image", Image, Member),
    ("delete_image", Image, Member),
    ("upload_image", Image, Member),
    ("download_image", Image, Reader),
    ("import_image", Image, Member),
    ("deactivate", Image, Member),
    ("reactivate", Image, Member),
    ("publicize_image", Image, Admin),
    ("communitize_image", Image, Member),
    ("add_member", Image, Member),
    ("get_members", Image, Reader),
    ("get_member", Image, Reader),
    ("modify_member", Image, Member),
    ("delete_member", Image, Member),
    // Block Storage.
    ("volume:create", Volume, Member),
    ("volume:create_from_image", Volume, Member),
    ("volume:get", Volume, Reader),
    ("volume:get_all", Volume, Reader),
    ("volume:update", Volume, Member),
    ("volume:delete", Volume, Member),
    ("volume:force_delete", Volume, Admin),
    ("volume:extend", Volume, Member),
    ("volume:extend_attached_volume", Volume, Member),
    ("volume:retype", Volume, Member),
    ("volume:reimage", Volume, Member),
    ("volume:create_transfer", Volume, Member),
    ("volume:get_transfer", Volume, Reader),
    ("volume:get_all_transfers", Volume, Reader),
    ("volume:accept_transfer", Volume, Member),
    ("volume:delete_transfer", Volume, Member),
    ("volume:reimage_reserved", Volume, Member),
    ("volume:update_readonly_flag", Volume, Member),
    ("volume:get_volume_metadata", Volume, Reader),
    ("volume:create_volume_metadata", Volume, Member),
    ("volume:update_volume_metadata", Volume, Member),
    ("volume:delete_volume_metadata", Volume, Member),
    ("volume_extension:volume_image_metadata:show", Volume, Reader),
    ("volume_extension:volume_image_metadata:set", Volume, Member),
    ("volume_extension:volume_image_metadata:remove", Volume, Member),
    ("volume_extension:volume_actions:upload_image", Volume, Member),
    ("volume_extension:volume_actions:upload_public", Volume, Admin),
    ("volume:get_snapshot", Volume, Reader),
    ("volume:get_all_snapshots", Volume, Reader),
    ("volume:create_snapshot", Volume, Member),
    ("volume:update_snapshot", Volume, Member),
    ("volume:delete_snapshot", Volume, Member),
    ("volume:get_snapshot_metadata", Volume, Reader),
    ("volume:update_snapshot_metadata", Volume, Member),
    ("volume:delete_snapshot_metadata", Volume, Member),
    ("volume_extension:extended_snapshot_attributes", Volume, Reader),
    ("volume_extension:snapshot_admin_actions:reset_status", Volume, Admin),
    ("volume_extension:snapshot_admin_actions:force_delete", Volume, Admin),
    ("backup:create", Volume, Member),
    ("backup:get", Volume, Reader),
    ("backup:get_all", Volume, Reader),
    ("backup:update", Volume, Member),
    ("backup:delete", Volume, Member),
    ("backup:restore", Volume, Member),
    ("volume_extension:backup_admin_actions:reset_status", Volume, Admin),
    ("volume_extension:backup_admin_actions:force_delete", Volume, Admin),
    ("volume:attachment_create", Volume, Member),
    ("volume:attachment_update", Volume, Member),
    ("volume:attachment_delete", Volume, Member),
    ("volume:attachment_complete", Volume, Member),
    ("volume_extension:volume_actions:reserve", Volume, Member),
    ("volume_extension:volume_actions:unreserve", Volume, Member),
    ("volume_extension:volume_actions:initialize_connection", Volume, Member),
    ("volume_extension:volume_actions:terminate_connection", Volume, Member),
    ("volume_extension:volume_actions:attach", Volume, Member),
    ("volume_extension:volume_actions:begin_detaching", Volume, Member),
    ("volume_extension:volume_actions:roll_detaching", Volume, Member),
    ("volume_extension:volume_actions:detach", Volume, Member),
    ("volume_extension:volume_admin_actions:reset_status", Volume, Admin),
    ("volume_extension:volume_admin_actions:force_delete", Volume, Admin),
    ("volume_extension:volume_host_attribute", Volume, Admin),
    ("volume_extension:volume_mig_status_attribute", Volume, Admin),
    ("volume_extension:volume_tenant_attribute", Volume, Reader),
    ("volume_extension:type_get", Volume, Reader),
    ("volume_extension:type_get_all", Volume, Reader),
    ("volume_extension:type_create", Volume, Admin),
    ("volume_extension:type_update", Volume, Admin),
    ("volume_extension:type_delete", Volume, Admin),
    ("volume_extension:types_extra_specs:index", Volume, Reader),
    ("volume_extension:types_extra_specs:show", Volume, Reader),
    ("volume_extension:types_extra_specs:create", Volume, Admin),
    ("volume_extension:types_extra_specs:update", Volume, Admin),
    ("volume_extension:types_extra_specs:delete", Volume, Admin),
    ("volume_extension:volume_type_access", Volume, Member),
    ("volume_extension:volume_type_access:addProjectAccess", Volume, Admin),
    ("volume_extension:volume_type_access:removeProjectAccess", Volume, Admin),
    ("volume_extension:volume_type_access:get_all_for_type", Volume, Admin),
    ("volume_extension:quotas:show", Volume, Reader),
    ("volume_extension:quotas:update", Volume, Admin),
    ("volume_extension:quotas:delete", Volume, Admin),
    ("volume_extension:quota_classes", Volume, Admin),
    ("volume_extension:quota_classes:update", Volume, Admin),
    ("limits_extension:used_limits", Volume, Reader),
    ("volume_extension:services:index", Volume, Admin),
];

/// The rule's service and check; `None` for a name not in the table.
pub fn rule(name: &str) -> Option<(Service, Check)> {
    RULES.iter().find(|(n, ..)| *n == name).map(|(_, s, c)| (*s, *c))
}

/// Whether `ctx` passes `rule` on `target`. A name not in the table passes
/// for admins only, so a rule forgotten in the table fails closed.
pub fn allows(ctx: &Context, rule_name: &str, target: &Target) -> bool {
    match rule(rule_name) {
        Some((_, check)) => check.allows(ctx, target),
        None => {
            tracing::error!(rule = rule_name, "policy rule missing from the table; admins only");
            ctx.is_admin()
        }
    }
}

/// `Ok` when `ctx` passes `rule` on `target`, else the 403 of the rule's
/// service, naming the rule.
pub fn enforce(ctx: &Context, rule_name: &str, target: &Target) -> Result<()> {
    if allows(ctx, rule_name, target) {
        return Ok(());
    }
    Err(denied(rule_name))
}

/// The refusal of `rule` in its service's words.
pub fn denied(rule_name: &str) -> Error {
    Error::Forbidden(match rule(rule_name).map(|(s, _)| s) {
        Some(Service::Network) => format!("rule:{rule_name} is disallowed by policy"),
        Some(Service::Image) => format!("You are not authorized to complete {rule_name} action."),
        Some(Service::Identity) => format!("You are not authorized to perform the requested action: {rule_name}."),
        _ => format!("Policy doesn't allow {rule_name} to be performed."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(project: &str, roles: &[&str]) -> Context {
        crate::testing::caller(&format!("user-{project}"), project, roles)
    }

    #[test]
    fn personas_as_upstream() {
        let reader = ctx("p", &["reader"]);
        let member = ctx("p", &["member", "reader"]);
        let admin = ctx("q", &["admin", "member", "reader"]);
        let other = ctx("q", &["member", "reader"]);
        let p = Target::project("p");
        for (who, read, write, administer) in [
            (&reader, true, false, false),
            (&member, true, true, false),
            (&admin, true, true, true),
            (&other, false, false, false),
        ] {
            assert_eq!(allows(who, "os_compute_api:servers:show", &p), read, "{:?}", who.roles);
            assert_eq!(allows(who, "os_compute_api:servers:create", &p), write, "{:?}", who.roles);
            assert_eq!(allows(who, "create_network", &p), write);
            assert_eq!(allows(who, "os_compute_api:os-flavor-manage:create", &p), administer);
        }
        // A reader makes its own keypairs, as Nova's user-owned rule says.
        assert!(allows(&reader, "os_compute_api:os-keypairs:create", &Target::caller(&reader)));
        assert!(!allows(&reader, "os_compute_api:os-keypairs:create", &Target::user("someone-else")));
    }

    #[test]
    fn refusals_name_the_rule_in_the_service_dialect() {
        let reader = ctx("p", &["reader"]);
        let p = Target::project("p");
        let msg = |rule| enforce(&reader, rule, &p).unwrap_err().to_string();
        assert_eq!(
            msg("os_compute_api:servers:create"),
            "Policy doesn't allow os_compute_api:servers:create to be performed."
        );
        assert_eq!(msg("create_port"), "rule:create_port is disallowed by policy");
        assert_eq!(msg("add_image"), "You are not authorized to complete add_image action.");
        // Unknown rules fail closed.
        assert!(!allows(&ctx("p", &["member", "reader"]), "no_such_rule", &p));
    }

    #[test]
    fn rule_names_are_unique() {
        let mut names: Vec<_> = RULES.iter().map(|(n, ..)| *n).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }
}

//! One function per subcommand, grouped as python-novaclient's shell groups
//! them.

mod cloud;
mod flavors;
mod images;
mod keypairs;
mod quotas;
mod servers;

use serde_json::json;

use crate::cli::Command;
use crate::session::{Result, Session};

pub async fn run(s: &mut Session, command: Command) -> Result<()> {
    use Command as C;
    match command {
        C::List(a) => servers::list(s, &a).await,
        C::Show { server, minimal, wrap } => servers::show(s, &server, minimal, wrap).await,
        C::Boot(a) => servers::boot(s, &a).await,
        C::Delete { server } => servers::delete(s, &server).await,
        C::Reboot { server, hard, poll } => servers::reboot(s, &server, hard, poll).await,
        C::Stop { server } => servers::stop(s, &server).await,
        C::Start { server } => servers::start(s, &server).await,
        C::Pause { server } => servers::action(s, &server, json!({"pause": null})).await.map(drop),
        C::Unpause { server } => servers::action(s, &server, json!({"unpause": null})).await.map(drop),
        C::Suspend { server } => servers::action(s, &server, json!({"suspend": null})).await.map(drop),
        C::Resume { server } => servers::action(s, &server, json!({"resume": null})).await.map(drop),
        C::Lock { server, reason } => {
            let body = match reason {
                Some(r) => json!({"lock": {"locked_reason": r}}),
                None => json!({"lock": null}),
            };
            servers::action(s, &server, body).await.map(drop)
        }
        C::Unlock { server } => servers::action(s, &server, json!({"unlock": null})).await.map(drop),
        C::Rescue { server, password, image } => {
            let mut rescue = json!({});
            if let Some(p) = password {
                rescue["adminPass"] = json!(p);
            }
            if let Some(i) = image {
                rescue["rescue_image_ref"] = crate::find::image(s, &i).await?["id"].clone();
            }
            let answer = servers::action(s, &server, json!({"rescue": rescue})).await?;
            if let Some(pass) = answer.get("adminPass") {
                crate::table::print_dict([(&"adminPass".to_string(), pass)]);
            }
            Ok(())
        }
        C::Unrescue { server } => servers::action(s, &server, json!({"unrescue": null})).await.map(drop),
        C::Shelve { server } => servers::action(s, &server, json!({"shelve": null})).await.map(drop),
        C::Unshelve { server } => servers::action(s, &server, json!({"unshelve": null})).await.map(drop),
        C::Resize { server, flavor, poll } => servers::resize(s, &server, &flavor, poll).await,
        C::ResizeConfirm { server } => servers::action(s, &server, json!({"confirmResize": null})).await.map(drop),
        C::ResizeRevert { server } => servers::action(s, &server, json!({"revertResize": null})).await.map(drop),
        C::Rebuild { server, image, name, poll } => servers::rebuild(s, &server, &image, name.as_deref(), poll).await,
        C::Update { server, name, description } => {
            servers::update(s, &server, name.as_deref(), description.as_deref()).await
        }
        C::ImageCreate { server, name, metadata, show, poll } => {
            servers::image_create(s, &server, &name, &metadata, show, poll).await
        }
        C::ConsoleLog { server, length } => servers::console_log(s, &server, length).await,
        C::GetSerialConsole { server, console_type } => {
            servers::remote_console(s, &server, "serial", &console_type).await
        }
        C::GetVncConsole { server, console_type } => servers::remote_console(s, &server, "vnc", &console_type).await,
        C::Meta { server, action, metadata } => servers::meta(s, &server, &action, &metadata).await,
        C::ServerTagAdd { server, tags } => servers::tags(s, &server, Some(&tags), None).await,
        C::ServerTagList { server } => servers::tags(s, &server, None, None).await,
        C::ServerTagDelete { server, tags } => servers::tags(s, &server, None, Some(&tags)).await,
        C::InstanceAction { server, request_id } => servers::instance_actions(s, &server, Some(&request_id)).await,
        C::InstanceActionList { server } => servers::instance_actions(s, &server, None).await,
        C::InterfaceList { server } => servers::interface_list(s, &server).await,
        C::VolumeAttach { server, volume, device, tag, delete_on_termination } => {
            servers::volume_attach(s, &server, &volume, device.as_deref(), tag.as_deref(), delete_on_termination).await
        }
        C::VolumeDetach { server, volume } => servers::volume_detach(s, &server, &volume).await,
        C::VolumeAttachments { server } => servers::volume_attachments(s, &server).await,
        C::Ssh(a) => servers::ssh(s, &a).await,
        C::KeypairAdd { name, pub_key, key_type, user } => {
            keypairs::add(s, &name, pub_key.as_deref(), &key_type, user.as_deref()).await
        }
        C::KeypairList { user, marker, limit } => keypairs::list(s, user, marker, limit).await,
        C::KeypairShow { keypair, user } => keypairs::show(s, &keypair, user.as_deref()).await,
        C::KeypairDelete { name, user } => keypairs::delete(s, &name, user.as_deref()).await,
        C::FlavorList { extra_specs, all, marker, limit, min_disk, min_ram, sort_key, sort_dir } => {
            flavors::list(s, extra_specs, all, (marker, limit), (min_disk, min_ram), (sort_key, sort_dir)).await
        }
        C::FlavorShow { flavor } => flavors::show(s, &flavor).await,
        C::FlavorCreate { name, id, ram, disk, vcpus, ephemeral, swap, rxtx_factor, is_public, description } => {
            flavors::create(
                s,
                &name,
                &id,
                (ram, disk, vcpus),
                ephemeral,
                swap,
                rxtx_factor,
                &is_public,
                description.as_deref(),
            )
            .await
        }
        C::FlavorDelete { flavor } => flavors::delete(s, &flavor).await,
        C::FlavorKey { flavor, action, metadata } => flavors::key(s, &flavor, &action, &metadata).await,
        C::FlavorAccessList { flavor } => flavors::access(s, &flavor, None).await,
        C::FlavorAccessAdd { flavor, tenant } => flavors::access(s, &flavor, Some(("addTenantAccess", &tenant))).await,
        C::FlavorAccessRemove { flavor, tenant } => {
            flavors::access(s, &flavor, Some(("removeTenantAccess", &tenant))).await
        }
        C::ImageList { limit } => images::list(s, limit).await,
        C::ImageShow { image } => images::show(s, &image).await,
        C::QuotaShow(a) => quotas::show(s, a.tenant.as_deref(), a.user.as_deref(), a.detail).await,
        C::QuotaDefaults { tenant } => quotas::defaults(s, tenant.as_deref()).await,
        C::QuotaUpdate(a) => quotas::update(s, &a).await,
        C::Limits { tenant, reserved } => quotas::limits(s, tenant.as_deref(), reserved).await,
        C::Usage { start, end, tenant } => quotas::usage(s, start.as_deref(), end.as_deref(), tenant.as_deref()).await,
        C::UsageList { start, end } => quotas::usage_list(s, start.as_deref(), end.as_deref()).await,
        C::AvailabilityZoneList => cloud::availability_zones(s).await,
        C::HypervisorList { matching, marker, limit } => cloud::hypervisor_list(s, matching, marker, limit).await,
        C::HypervisorShow { hypervisor, wrap } => cloud::hypervisor_show(s, &hypervisor, wrap).await,
        C::HypervisorStats => cloud::hypervisor_stats(s).await,
        C::ServiceList { host, binary } => cloud::services(s, host, binary).await,
        C::ServerGroupCreate { name, policy, rule } => cloud::server_group_create(s, &name, &policy, &rule).await,
        C::ServerGroupList { all_projects, limit, offset } => {
            cloud::server_group_list(s, all_projects, limit, offset).await
        }
        C::ServerGroupGet { id } => cloud::server_group_get(s, &id).await,
        C::ServerGroupDelete { id } => cloud::server_group_delete(s, &id).await,
        C::AggregateList => cloud::aggregate_list(s).await,
        C::AggregateCreate { name, availability_zone } => {
            cloud::aggregate_create(s, &name, availability_zone.as_deref()).await
        }
        C::AggregateShow { aggregate } => cloud::aggregate_show(s, &aggregate).await,
        C::VersionList => cloud::version_list(s).await,
    }
}

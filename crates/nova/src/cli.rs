//! python-novaclient's command line: global `--os-*` options (each also read
//! from its `OS_*` variable, as keystoneauth reads them) before a subcommand
//! with its own arguments, under python-novaclient's names.

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "nova", version, about = "Command-line interface to the OpenStack Nova API.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone, Default)]
pub struct Global {
    /// Print debugging output (tokens redacted).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Print call timing info.
    #[arg(long, global = true)]
    pub timings: bool,
    #[arg(long = "os-cloud", env = "OS_CLOUD", hide = true)]
    pub cloud: Option<String>,
    #[arg(long = "os-region-name", env = "OS_REGION_NAME", value_name = "region-name")]
    pub region_name: Option<String>,
    #[arg(long = "os-endpoint-type", alias = "os-interface", env = "OS_INTERFACE", value_name = "endpoint-type")]
    pub interface: Option<String>,
    #[arg(long = "os-compute-api-version", env = "OS_COMPUTE_API_VERSION", value_name = "compute-api-ver")]
    pub compute_api_version: Option<String>,
    #[arg(long = "os-endpoint-override", value_name = "bypass-url")]
    pub endpoint_override: Option<String>,
    #[arg(long = "os-url", env = "OS_URL", hide = true)]
    pub url: Option<String>,
    #[arg(long, env = "OS_INSECURE", hide = true)]
    pub insecure: bool,
    #[arg(long = "os-cacert", env = "OS_CACERT", value_name = "ca-certificate")]
    pub cacert: Option<String>,
    #[arg(long, value_name = "seconds")]
    pub timeout: Option<u64>,
    #[arg(long = "os-auth-type", env = "OS_AUTH_TYPE", value_name = "name")]
    pub auth_type: Option<String>,
    #[arg(long = "os-auth-url", env = "OS_AUTH_URL")]
    pub auth_url: Option<String>,
    #[arg(long = "os-system-scope", env = "OS_SYSTEM_SCOPE")]
    pub system_scope: Option<String>,
    #[arg(long = "os-project-id", env = "OS_PROJECT_ID")]
    pub project_id: Option<String>,
    #[arg(long = "os-project-name", env = "OS_PROJECT_NAME")]
    pub project_name: Option<String>,
    #[arg(long = "os-tenant-id", env = "OS_TENANT_ID", hide = true)]
    pub tenant_id: Option<String>,
    #[arg(long = "os-tenant-name", env = "OS_TENANT_NAME", hide = true)]
    pub tenant_name: Option<String>,
    #[arg(long = "os-project-domain-id", env = "OS_PROJECT_DOMAIN_ID")]
    pub project_domain_id: Option<String>,
    #[arg(long = "os-project-domain-name", env = "OS_PROJECT_DOMAIN_NAME")]
    pub project_domain_name: Option<String>,
    #[arg(long = "os-default-domain-id", env = "OS_DEFAULT_DOMAIN_ID")]
    pub default_domain_id: Option<String>,
    #[arg(long = "os-default-domain-name", env = "OS_DEFAULT_DOMAIN_NAME")]
    pub default_domain_name: Option<String>,
    #[arg(long = "os-user-id", env = "OS_USER_ID")]
    pub user_id: Option<String>,
    #[arg(long = "os-username", env = "OS_USERNAME")]
    pub username: Option<String>,
    #[arg(long = "os-user-domain-id", env = "OS_USER_DOMAIN_ID")]
    pub user_domain_id: Option<String>,
    #[arg(long = "os-user-domain-name", env = "OS_USER_DOMAIN_NAME")]
    pub user_domain_name: Option<String>,
    #[arg(long = "os-password", env = "OS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    #[arg(long = "os-token", env = "OS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long = "os-application-credential-id", env = "OS_APPLICATION_CREDENTIAL_ID", hide = true)]
    pub application_credential_id: Option<String>,
    #[arg(long = "os-application-credential-name", env = "OS_APPLICATION_CREDENTIAL_NAME", hide = true)]
    pub application_credential_name: Option<String>,
    #[arg(
        long = "os-application-credential-secret",
        env = "OS_APPLICATION_CREDENTIAL_SECRET",
        hide = true,
        hide_env_values = true
    )]
    pub application_credential_secret: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// List servers.
    List(ListArgs),
    /// Show details about the given server.
    Show {
        /// Name or ID of server.
        server: String,
        /// Skips flavor/image lookups when showing servers.
        #[arg(long)]
        minimal: bool,
        /// Wrap the output to a specified length, or 0 to disable.
        #[arg(long, default_value_t = 0)]
        wrap: usize,
    },
    /// Boot a new server.
    Boot(Box<BootArgs>),
    /// Immediately shut down and delete specified server(s).
    Delete {
        #[arg(required = true)]
        server: Vec<String>,
    },
    /// Reboot a server.
    Reboot {
        #[arg(required = true)]
        server: Vec<String>,
        /// Perform a hard reboot (instead of a soft one).
        #[arg(long)]
        hard: bool,
        /// Poll until reboot is complete.
        #[arg(long)]
        poll: bool,
    },
    /// Stop the server(s).
    Stop {
        #[arg(required = true)]
        server: Vec<String>,
    },
    /// Start the server(s).
    Start {
        #[arg(required = true)]
        server: Vec<String>,
    },
    /// Pause a server.
    Pause { server: String },
    /// Unpause a server.
    Unpause { server: String },
    /// Suspend a server.
    Suspend { server: String },
    /// Resume a server.
    Resume { server: String },
    /// Lock a server.
    Lock {
        server: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unlock a server.
    Unlock { server: String },
    /// Reboot into rescue mode.
    Rescue {
        server: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        image: Option<String>,
    },
    /// Restart the server from normal boot disk again.
    Unrescue { server: String },
    /// Shelve a server.
    Shelve { server: String },
    /// Unshelve a server.
    Unshelve { server: String },
    /// Resize a server.
    Resize {
        server: String,
        flavor: String,
        #[arg(long)]
        poll: bool,
    },
    /// Confirm a previous resize.
    ResizeConfirm { server: String },
    /// Revert a previous resize (and return to the previous VM).
    ResizeRevert { server: String },
    /// Shutdown, re-image, and re-boot a server.
    Rebuild {
        server: String,
        image: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        poll: bool,
    },
    /// Update the name or the description for a server.
    Update {
        server: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Create a new image by taking a snapshot of a running server.
    ImageCreate {
        server: String,
        name: String,
        #[arg(long = "metadata")]
        metadata: Vec<String>,
        #[arg(long)]
        show: bool,
        #[arg(long)]
        poll: bool,
    },
    /// Get console log output of a server.
    ConsoleLog {
        server: String,
        #[arg(long)]
        length: Option<i64>,
    },
    /// Get a serial console to a server.
    GetSerialConsole {
        server: String,
        #[arg(long = "console-type", default_value = "serial")]
        console_type: String,
    },
    /// Get a vnc console to a server.
    GetVncConsole { server: String, console_type: String },
    /// Set or delete metadata on a server.
    Meta {
        server: String,
        action: String,
        #[arg(required = true)]
        metadata: Vec<String>,
    },
    /// Add one or more tags to a server.
    ServerTagAdd {
        server: String,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Get list of tags from a server.
    ServerTagList { server: String },
    /// Delete one or more tags from a server.
    ServerTagDelete {
        server: String,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Show an action.
    InstanceAction { server: String, request_id: String },
    /// List actions on a server.
    InstanceActionList { server: String },
    /// List interfaces attached to a server.
    InterfaceList { server: String },
    /// Attach a volume to a server.
    VolumeAttach {
        /// Name or ID of server.
        server: String,
        /// ID of the volume to attach.
        volume: String,
        /// Name of the device e.g. /dev/vdb. Use "auto" for autoassign.
        device: Option<String>,
        /// Tag for the attached volume.
        #[arg(long)]
        tag: Option<String>,
        /// Specify if the attached volume should be deleted when the server
        /// is destroyed.
        #[arg(long = "delete-on-termination")]
        delete_on_termination: bool,
    },
    /// Detach a volume from a server.
    VolumeDetach {
        /// Name or ID of server.
        server: String,
        /// ID of the volume to detach.
        volume: String,
    },
    /// List all the volumes attached to a server.
    VolumeAttachments { server: String },
    /// SSH into a server.
    Ssh(SshArgs),
    /// Create a new key pair for use with servers.
    KeypairAdd {
        /// Name of key.
        name: String,
        /// Path to a public ssh key (`-` for standard input); without it, the
        /// cloud makes the key and its private half is printed once.
        #[arg(long = "pub-key", alias = "pub_key")]
        pub_key: Option<String>,
        /// Keypair type: ssh or x509.
        #[arg(long = "key-type", default_value = "ssh")]
        key_type: String,
        /// ID of user to whom to add key-pair (Admin only).
        #[arg(long)]
        user: Option<String>,
    },
    /// Print a list of keypairs for a user.
    KeypairList {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        marker: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Show details about the given keypair.
    KeypairShow {
        keypair: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete keypair given by its name.
    KeypairDelete {
        name: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Print a list of available 'flavors' (sizes of servers).
    FlavorList {
        #[arg(long = "extra-specs")]
        extra_specs: bool,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        marker: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long = "min-disk")]
        min_disk: Option<u64>,
        #[arg(long = "min-ram")]
        min_ram: Option<u64>,
        #[arg(long = "sort-key")]
        sort_key: Option<String>,
        #[arg(long = "sort-dir")]
        sort_dir: Option<String>,
    },
    /// Show details about the given flavor.
    FlavorShow { flavor: String },
    /// Create a new flavor.
    FlavorCreate {
        name: String,
        id: String,
        ram: u64,
        disk: u64,
        vcpus: u64,
        #[arg(long, default_value_t = 0)]
        ephemeral: u64,
        #[arg(long, default_value_t = 0)]
        swap: u64,
        #[arg(long = "rxtx-factor", default_value_t = 1.0)]
        rxtx_factor: f64,
        #[arg(long = "is-public", default_value = "true")]
        is_public: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a specific flavor.
    FlavorDelete { flavor: String },
    /// Set or unset extra_spec for a flavor.
    FlavorKey {
        flavor: String,
        action: String,
        #[arg(required = true)]
        metadata: Vec<String>,
    },
    /// Print access information about the given flavor.
    FlavorAccessList {
        #[arg(long)]
        flavor: String,
    },
    /// Add flavor access for the given tenant.
    FlavorAccessAdd { flavor: String, tenant: String },
    /// Remove flavor access for the given tenant.
    FlavorAccessRemove { flavor: String, tenant: String },
    /// Print a list of available images to boot from.
    ImageList {
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Show details about the given image.
    ImageShow { image: String },
    /// List the quotas for a tenant/user.
    QuotaShow(QuotaArgs),
    /// List the default quotas for a tenant.
    QuotaDefaults {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Update the quotas for a tenant/user.
    QuotaUpdate(QuotaUpdateArgs),
    /// Print rate and absolute limits.
    Limits {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        reserved: bool,
    },
    /// Show usage data for a single tenant.
    Usage {
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List usage data for all tenants.
    UsageList {
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
    },
    /// List all the availability zones.
    AvailabilityZoneList,
    /// List hypervisors.
    HypervisorList {
        #[arg(long)]
        matching: Option<String>,
        #[arg(long)]
        marker: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Display the details of the specified hypervisor.
    HypervisorShow {
        hypervisor: String,
        /// Wrap the output to a specified length.
        #[arg(long, default_value_t = 40)]
        wrap: usize,
    },
    /// Get hypervisor statistics over all compute nodes.
    HypervisorStats,
    /// Show a list of all running services.
    ServiceList {
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        binary: Option<String>,
    },
    /// Create a new server group with the specified details.
    ServerGroupCreate {
        name: String,
        policy: String,
        #[arg(long)]
        rule: Vec<String>,
    },
    /// Print a list of all server groups.
    ServerGroupList {
        #[arg(long = "all-projects")]
        all_projects: bool,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        offset: Option<u64>,
    },
    /// Get a specific server group.
    ServerGroupGet { id: String },
    /// Delete specific server group(s).
    ServerGroupDelete {
        #[arg(required = true)]
        id: Vec<String>,
    },
    /// Print a list of all aggregates.
    AggregateList,
    /// Create a new aggregate with the specified details.
    AggregateCreate { name: String, availability_zone: Option<String> },
    /// Show details of the specified aggregate.
    AggregateShow { aggregate: String },
    /// List all API versions.
    VersionList,
}

#[derive(Args)]
pub struct ListArgs {
    /// Display information from all tenants (Admin only).
    #[arg(long = "all-tenants", num_args = 0..=1, default_missing_value = "1")]
    pub all_tenants: Option<u8>,
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub image: Option<String>,
    #[arg(long)]
    pub flavor: Option<String>,
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long = "changes-since")]
    pub changes_since: Option<String>,
    #[arg(long)]
    pub tags: Option<String>,
    #[arg(long = "key-name")]
    pub key_name: Option<String>,
    /// Comma-separated list of fields to display.
    #[arg(long)]
    pub fields: Option<String>,
    /// Get only UUID and name.
    #[arg(long)]
    pub minimal: bool,
    #[arg(long)]
    pub marker: Option<String>,
    #[arg(long)]
    pub limit: Option<i64>,
    /// Comma-separated list of sort keys and directions in the form of
    /// <key>[:<asc|desc>].
    #[arg(long)]
    pub sort: Option<String>,
}

#[derive(Args)]
pub struct BootArgs {
    /// Name for the new server.
    pub name: String,
    /// Name or ID of flavor.
    #[arg(long)]
    pub flavor: Option<String>,
    /// Name or ID of image.
    #[arg(long)]
    pub image: Option<String>,
    /// Boot at least <number> servers (limited by quota).
    #[arg(long = "min-count", value_name = "number")]
    pub min_count: Option<u32>,
    /// Boot up to <number> servers (limited by quota).
    #[arg(long = "max-count", value_name = "number")]
    pub max_count: Option<u32>,
    /// Record arbitrary key/value metadata; may be given several times.
    #[arg(long, value_name = "key=value")]
    pub meta: Vec<String>,
    /// Key name of keypair that should be created earlier with the command keypair-add.
    #[arg(long = "key-name", alias = "key_name")]
    pub key_name: Option<String>,
    /// User data file to pass to be exposed by the metadata server.
    #[arg(long = "user-data", alias = "user_data")]
    pub user_data: Option<String>,
    /// The availability zone for server placement.
    #[arg(long = "availability-zone", alias = "availability_zone")]
    pub availability_zone: Option<String>,
    /// Comma separated list of security group names.
    #[arg(long = "security-groups", alias = "security_groups")]
    pub security_groups: Option<String>,
    /// Block device mapping with the keys: id=UUID, source=source type, dest=destination type, size, ...
    #[arg(long = "block-device", value_name = "key1=value1[,key2=value2...]")]
    pub block_device: Vec<String>,
    /// Send arbitrary key/value pairs to the scheduler.
    #[arg(long, value_name = "key=value")]
    pub hint: Vec<String>,
    /// auto, none, or net-id=, net-name=, port-id=, v4-fixed-ip=, v6-fixed-ip=, tag=.
    #[arg(long = "nic")]
    pub nics: Vec<String>,
    /// Enable config drive.
    #[arg(long = "config-drive", value_name = "value")]
    pub config_drive: Option<String>,
    /// Report the new server boot progress until it completes.
    #[arg(long)]
    pub poll: bool,
    #[arg(long = "admin-pass")]
    pub admin_pass: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub tags: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long = "return-reservation-id")]
    pub return_reservation_id: bool,
}

#[derive(Args)]
pub struct QuotaArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub detail: bool,
}

#[derive(Args)]
pub struct QuotaUpdateArgs {
    pub tenant: String,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub instances: Option<i64>,
    #[arg(long)]
    pub cores: Option<i64>,
    #[arg(long)]
    pub ram: Option<i64>,
    #[arg(long = "metadata-items")]
    pub metadata_items: Option<i64>,
    #[arg(long = "key-pairs")]
    pub key_pairs: Option<i64>,
    #[arg(long = "server-groups")]
    pub server_groups: Option<i64>,
    #[arg(long = "server-group-members")]
    pub server_group_members: Option<i64>,
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct SshArgs {
    pub server: String,
    /// Optional flag to indicate which port to use for ssh.
    #[arg(long, default_value_t = 22)]
    pub port: u16,
    /// Optional flag to indicate which IP type to use.
    #[arg(long = "address-type", default_value = "floating")]
    pub address_type: String,
    /// Network to use for the ssh.
    #[arg(long)]
    pub network: Option<String>,
    /// Optional flag to indicate whether to use an IPv6 address attached to a server.
    #[arg(long)]
    pub ipv6: bool,
    /// Use the fixed (private) address: the same as `--address-type fixed`.
    #[arg(long)]
    pub private: bool,
    /// Login to use.
    #[arg(long, default_value = "root")]
    pub login: String,
    /// Private key file, same as the -i option to the ssh command.
    #[arg(short = 'i', long)]
    pub identity: Option<String>,
    /// Extra options to pass to ssh (and the command to run); see `man ssh`.
    #[arg(long = "extra-opts", allow_hyphen_values = true)]
    pub extra_opts: Option<String>,
}

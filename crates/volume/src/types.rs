//! Volume types: public ones every project uses, private ones the projects
//! given access use, their extra specs; only admins change them. The type
//! `__DEFAULT__` exists from the first start and cannot be deleted.

use oxistack_core::context::Context;
use oxistack_core::db::JsonText;
use oxistack_core::error::{Error, Result};
use oxistack_core::policy::{enforce, Target};

use crate::store::{self, Metadata, TypeRow};
use crate::views::now;
use crate::Volume;

pub const DEFAULT_TYPE: &str = "__DEFAULT__";

/// A type's fields as a create or update gives them; `None` leaves one.
#[derive(Clone, Debug, Default)]
pub struct TypeFields {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_public: Option<bool>,
    pub extra_specs: Option<Metadata>,
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(Error::BadRequest(format!(
            "Invalid input for field/attribute name. Value: {name}. The name must be 1 to 255 characters, not only spaces."
        )));
    }
    Ok(())
}

fn check_specs(specs: &Metadata) -> Result<()> {
    for (k, v) in specs {
        if k.is_empty() || k.chars().count() > 255 || v.chars().count() > 255 {
            return Err(Error::BadRequest(format!(
                "Invalid input for field/attribute extra_specs. Value: {k}. Keys and values are 1 to 255 characters."
            )));
        }
    }
    Ok(())
}

impl Volume {
    pub(crate) async fn ensure_default_type(&self) -> Result<()> {
        if store::type_named(&self.pool, DEFAULT_TYPE).await?.is_some() {
            return Ok(());
        }
        let t = TypeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: DEFAULT_TYPE.into(),
            description: Some("Default Volume Type".into()),
            is_public: true,
            extra_specs: JsonText::default(),
            created_at: now(),
            updated_at: None,
        };
        match store::insert_type(&self.pool, &t).await {
            // Another server on the database made it first.
            Err(Error::Conflict(_)) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether `ctx` may use (and so see) a type.
    async fn may_use(&self, ctx: &Context, t: &TypeRow) -> Result<bool> {
        if t.is_public || ctx.is_admin() {
            return Ok(true);
        }
        match ctx.project_id() {
            Some(p) => store::has_type_access(&self.pool, &t.id, p).await,
            None => Ok(false),
        }
    }

    /// A type by id or, failing that, by name, as Cinder's lookups take
    /// either; absent when `ctx` may not use it.
    pub(crate) async fn find_type(&self, ctx: &Context, id_or_name: &str) -> Result<Option<TypeRow>> {
        let found = match store::volume_type(&self.pool, id_or_name).await? {
            Some(t) => Some(t),
            None => store::type_named(&self.pool, id_or_name).await?,
        };
        match found {
            Some(t) if self.may_use(ctx, &t).await? => Ok(Some(t)),
            _ => Ok(None),
        }
    }

    /// The type a new volume gets: the one asked for, else the default.
    pub(crate) async fn type_for_create(&self, ctx: &Context, asked: Option<&str>) -> Result<TypeRow> {
        let name = asked.filter(|a| !a.is_empty()).unwrap_or(DEFAULT_TYPE);
        self.find_type(ctx, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("Volume type with name {name} could not be found.")))
    }

    pub async fn volume_type(&self, ctx: &Context, id: &str) -> Result<TypeRow> {
        enforce(ctx, "volume_extension:type_get", &Target::caller(ctx))?;
        if id == "default" {
            return self.type_for_create(ctx, None).await;
        }
        self.find_type(ctx, id).await?.ok_or_else(|| store::type_not_found(id))
    }

    /// Every type's name by id: what volumes show as their type, which
    /// their owners see whatever their access.
    pub async fn type_names(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(store::types(&self.pool, None).await?.into_iter().map(|t| (t.id, t.name)).collect())
    }

    pub async fn volume_types(&self, ctx: &Context) -> Result<Vec<TypeRow>> {
        enforce(ctx, "volume_extension:type_get_all", &Target::caller(ctx))?;
        let project = if ctx.is_admin() { None } else { Some(ctx.project_id().unwrap_or_default()) };
        store::types(&self.pool, project).await
    }

    pub async fn create_type(&self, ctx: &Context, fields: Result<TypeFields>) -> Result<TypeRow> {
        enforce(ctx, "volume_extension:type_create", &Target::caller(ctx))?;
        let fields = fields?;
        let name = fields.name.ok_or_else(|| Error::BadRequest("'name' is a required property".into()))?;
        check_name(&name)?;
        let specs = fields.extra_specs.unwrap_or_default();
        check_specs(&specs)?;
        let t = TypeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.trim().to_owned(),
            description: fields.description.flatten(),
            is_public: fields.is_public.unwrap_or(true),
            extra_specs: JsonText(specs),
            created_at: now(),
            updated_at: None,
        };
        store::insert_type(&self.pool, &t).await?;
        Ok(t)
    }

    /// The type itself for an admin's changes (any type, by id).
    async fn type_to_change(&self, ctx: &Context, id: &str, rule: &str) -> Result<TypeRow> {
        enforce(ctx, rule, &Target::caller(ctx))?;
        store::volume_type(&self.pool, id).await?.ok_or_else(|| store::type_not_found(id))
    }

    pub async fn update_type(&self, ctx: &Context, id: &str, fields: Result<TypeFields>) -> Result<TypeRow> {
        let mut t = self.type_to_change(ctx, id, "volume_extension:type_update").await?;
        let fields = fields?;
        if let Some(name) = fields.name {
            check_name(&name)?;
            if t.name == DEFAULT_TYPE && name != DEFAULT_TYPE {
                return Err(Error::BadRequest("The default volume type cannot be renamed.".into()));
            }
            t.name = name.trim().to_owned();
        }
        if let Some(d) = fields.description {
            t.description = d;
        }
        if let Some(p) = fields.is_public {
            t.is_public = p;
        }
        t.updated_at = Some(now());
        store::save_type(&self.pool, &t).await?;
        Ok(t)
    }

    pub async fn delete_type(&self, ctx: &Context, id: &str) -> Result<()> {
        let t = self.type_to_change(ctx, id, "volume_extension:type_delete").await?;
        if t.name == DEFAULT_TYPE {
            return Err(Error::BadRequest("Default volume type can not be deleted.".into()));
        }
        if !store::delete_unused_type(&self.pool, id).await? {
            return Err(Error::BadRequest("Target volume type is still in use.".into()));
        }
        Ok(())
    }

    pub async fn extra_specs(&self, ctx: &Context, id: &str) -> Result<Metadata> {
        enforce(ctx, "volume_extension:types_extra_specs:index", &Target::caller(ctx))?;
        Ok(self.find_type(ctx, id).await?.ok_or_else(|| store::type_not_found(id))?.extra_specs.0)
    }

    pub async fn extra_spec(&self, ctx: &Context, id: &str, key: &str) -> Result<String> {
        enforce(ctx, "volume_extension:types_extra_specs:show", &Target::caller(ctx))?;
        let t = self.find_type(ctx, id).await?.ok_or_else(|| store::type_not_found(id))?;
        t.extra_specs
            .0
            .get(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("Volume Type {id} has no extra specs with key {key}.")))
    }

    /// Merges `specs` into a type's; the type's specs after.
    pub async fn set_extra_specs(&self, ctx: &Context, id: &str, specs: Metadata, rule: &str) -> Result<Metadata> {
        let mut t = self.type_to_change(ctx, id, rule).await?;
        check_specs(&specs)?;
        t.extra_specs.0.extend(specs);
        t.updated_at = Some(now());
        store::save_type(&self.pool, &t).await?;
        Ok(t.extra_specs.0)
    }

    pub async fn delete_extra_spec(&self, ctx: &Context, id: &str, key: &str) -> Result<()> {
        let mut t = self.type_to_change(ctx, id, "volume_extension:types_extra_specs:delete").await?;
        if t.extra_specs.0.remove(key).is_none() {
            return Err(Error::NotFound(format!("Volume Type {id} has no extra specs with key {key}.")));
        }
        t.updated_at = Some(now());
        store::save_type(&self.pool, &t).await
    }

    pub async fn type_access(&self, ctx: &Context, id: &str) -> Result<Vec<String>> {
        let t = self.type_to_change(ctx, id, "volume_extension:volume_type_access:get_all_for_type").await?;
        if t.is_public {
            return Err(Error::NotFound(format!("Volume type access not found for {id}.")));
        }
        store::type_access(&self.pool, id).await
    }

    pub async fn add_type_access(&self, ctx: &Context, id: &str, project: &str) -> Result<()> {
        let t = self.type_to_change(ctx, id, "volume_extension:volume_type_access:addProjectAccess").await?;
        if t.is_public {
            return Err(Error::BadRequest(
                "Invalid volume type: Type access modification is not applicable to public volume type.".into(),
            ));
        }
        store::add_type_access(&self.pool, id, project).await
    }

    pub async fn remove_type_access(&self, ctx: &Context, id: &str, project: &str) -> Result<()> {
        self.type_to_change(ctx, id, "volume_extension:volume_type_access:removeProjectAccess").await?;
        if !store::remove_type_access(&self.pool, id, project).await? {
            return Err(Error::NotFound(format!("Volume type access not found for {id} / {project} combination.")));
        }
        Ok(())
    }
}

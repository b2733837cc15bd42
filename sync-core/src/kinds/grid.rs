//! Grids (网格 / 村居): the areas of the town, each with its inspectors (网格员).
//!
//! `grid.save` creates or renames a grid; only an admin may send it, and the server sends it on
//! the office's behalf. A grid's `code` (ASCII, e.g. `shacheng`) is what inspectors' scopes and
//! enterprises' `grid_id` name; its `name` is what people call it (沙埕村). Its entity id is
//! [`grid_id`] of the code, so a code names one grid everywhere.

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, EntityScope, EntityType, derived_id};
use crate::event::EventBody;
use crate::judge::{Actor, Kind, Reject, check_id, check_text, record_entity};

/// The entity id of the grid with `code`.
pub fn grid_id(code: &str) -> String {
    derived_id(&["grid", code])
}

/// A grid's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridRecord {
    /// The code scopes and enterprises use (1–64 of `A-Z a-z 0-9 - _`).
    pub code: String,
    /// The name people use (村居名称).
    pub name: String,
}

/// `grid.save`: create or rename a grid (admin).
#[derive(Debug)]
pub struct GridSave;

impl Kind for GridSave {
    const NAME: &'static str = "grid.save";
    const ENTITY: EntityType = EntityType::Grid;
    type Payload = GridRecord;

    fn validate(event: &EventBody, g: &GridRecord) -> Result<(), Reject> {
        check_id("code", &g.code)?;
        check_text("name", &g.name, 1, 50)?;
        let id = grid_id(&g.code);
        if event.entity_id != id {
            return Err(Reject::quarantine(
                "grid-id-mismatch",
                format!("a grid's entity_id is derived from its code: it must be {id}"),
            ));
        }
        Ok(())
    }

    fn scope(_: &Actor, g: &GridRecord, _: Option<&Entity>) -> Result<EntityScope, Reject> {
        Ok(EntityScope {
            grid: Some(g.code.clone()),
            ..EntityScope::default()
        })
    }

    fn authorize(
        actor: &Actor,
        _: &GridRecord,
        _: &EntityScope,
        _: Option<&Entity>,
    ) -> Result<(), Reject> {
        crate::judge::admin_only(actor, "keeps grids")
    }

    fn apply(
        _: &Actor,
        event: &EventBody,
        record: GridRecord,
        scope: EntityScope,
        _: Option<&Entity>,
    ) -> Result<Entity, Reject> {
        record_entity(&event.entity_id, EntityType::Grid, scope, &record)
    }
}

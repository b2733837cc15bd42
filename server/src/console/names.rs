//! Names of the town's enterprises and grids, for the ledgers.

use std::collections::HashMap;

use anjian_sync::entity::EntityType;

use super::State;

/// Names of the town's enterprises and grids by id, for the ledgers' columns.
pub struct Names {
    /// Enterprise id → name.
    pub enterprises: HashMap<String, String>,
    /// Grid code → name.
    pub grids: HashMap<String, String>,
}

impl Names {
    /// The names as the store has them now.
    pub async fn load(state: &State) -> Result<Names, crate::service::sync::SyncError> {
        // An enterprise's fact carries its name: no projection is decoded for it.
        let enterprises = state
            .sync
            .facts(EntityType::Enterprise)
            .await?
            .into_iter()
            .map(|(id, fact)| (id, fact.label))
            .collect();
        let grids = state
            .sync
            .entities_of_type(EntityType::Grid)
            .await?
            .into_iter()
            .map(|p| {
                let code = p.entity.body["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let name = p.entity.body["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (code, name)
            })
            .collect();
        Ok(Names { enterprises, grids })
    }

    /// An enterprise's name (its id when unknown).
    pub fn enterprise(&self, id: &str) -> String {
        self.enterprises
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// A grid's name (its code when unknown).
    pub fn grid(&self, code: &str) -> String {
        self.grids
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

//! Roles (角色) and scopes (管辖范围).
//!
//! A **role** names a job a person does in the town's work-safety supervision: an admin of the
//! town safety office (安委办), a leader who watches, an inspector (执法人员 / 网格员), an enterprise
//! safety manager (企业安全员), a team lead (班组长), a publicist (宣传员) or a reviewer of articles.
//! A person may hold several roles.
//!
//! A **scope** names the part of the town a person's work covers: the whole town (`town`), some
//! grids (网格, the town's supervision areas), one enterprise (企业) or one team (班组) of that
//! enterprise. Admins, leaders, publicists and reviewers work town-wide by their role alone; an
//! inspector covers the town or a list of grids; an enterprise manager one enterprise; a team
//! lead one team.
//!
//! A [`Grant`] is a checked pair of roles and scopes: every scope it holds is one that one of its
//! roles uses, and every role has the scope it needs. [`Grant::new`] is the only way to make one.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A job a person does in the system. The order of the variants is part of the stored format:
/// add new roles at the end only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Town safety office administrator (安委办管理员): manages users, enterprises and templates.
    Admin,
    /// Town leader (领导): reads everything in the town, changes nothing.
    Leader,
    /// Inspector (执法人员 / 网格员): inspects enterprises in the town or in assigned grids.
    Inspector,
    /// Enterprise safety manager (企业安全员): keeps one enterprise's teams, workers and rectifications.
    EnterpriseManager,
    /// Team lead (班组长): logs one team's shift safety meetings.
    TeamLead,
    /// Publicist (宣传员): writes safety-awareness articles.
    Publicist,
    /// Reviewer (审核员): reviews and publishes articles.
    Reviewer,
}

impl Role {
    /// Every role, in stored order.
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Leader,
        Role::Inspector,
        Role::EnterpriseManager,
        Role::TeamLead,
        Role::Publicist,
        Role::Reviewer,
    ];

    /// The role's stable machine name, as it appears on the wire (`enterprise_manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Inspector => "inspector",
            Role::EnterpriseManager => "enterprise_manager",
            Role::TeamLead => "team_lead",
            Role::Publicist => "publicist",
            Role::Reviewer => "reviewer",
        }
    }

    /// The name the town's people use for the role.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Leader => "领导",
            Role::Inspector => "执法人员",
            Role::EnterpriseManager => "企业安全员",
            Role::TeamLead => "班组长",
            Role::Publicist => "宣传员",
            Role::Reviewer => "审核员",
        }
    }

    /// Parses a machine name such as `team_lead`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of the town a person's work covers. See the module docs for which role uses which.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scopes {
    /// The whole town (全镇). Used by inspectors who are not tied to grids.
    pub town: bool,
    /// Grid ids (网格). Used by inspectors.
    pub grids: Vec<String>,
    /// The enterprise id (企业). Used by enterprise managers and team leads.
    pub enterprise: Option<String>,
    /// The team id (班组) within that enterprise. Used by team leads.
    pub team: Option<String>,
}

/// Why a pair of roles and scopes was refused. Each message says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No role was given.
    #[error(
        "a user needs at least one role (one of: admin, leader, inspector, enterprise_manager, team_lead, publicist, reviewer)"
    )]
    NoRole,
    /// An id in the scopes is empty, too long or has characters outside `A-Z a-z 0-9 - _`.
    #[error("{what} id `{id}` is not valid: use 1 to {max} characters from A-Z, a-z, 0-9, `-` and `_`", max = MAX_ID_LEN)]
    BadId {
        /// Which kind of id (`grid`, `enterprise`, `team`).
        what: &'static str,
        /// The id as given (cut to a readable length).
        id: String,
    },
    /// More grids than one person can be assigned.
    #[error("at most {max} grids can be assigned to one user, {given} were given", max = MAX_GRIDS)]
    TooManyGrids {
        /// How many were given.
        given: usize,
    },
    /// A role lacks the scope it needs.
    #[error("the role {role} ({zh}) needs {needs}", zh = role.label_zh())]
    MissingScope {
        /// The role that lacks it.
        role: Role,
        /// What is missing, in words.
        needs: &'static str,
    },
    /// A scope was given that none of the roles uses.
    #[error("the scope `{scope}` applies only to {used_by}; add such a role or remove the scope")]
    UnusedScope {
        /// The scope field (`town`, `grids`, `enterprise`, `team`).
        scope: &'static str,
        /// The roles that would use it, in words.
        used_by: &'static str,
    },
}

/// The longest id accepted for a grid, enterprise or team.
pub const MAX_ID_LEN: usize = 64;
/// The most grids one person can be assigned.
pub const MAX_GRIDS: usize = 256;

/// A checked set of roles with the scopes they use. Roles are kept sorted and without repeats;
/// grids likewise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    roles: BTreeSet<Role>,
    scopes: Scopes,
}

impl Grant {
    /// Checks roles and scopes together. Repeated roles and grids are merged; nothing else is
    /// changed: a scope that no role uses is an error, not silently dropped.
    pub fn new(
        roles: impl IntoIterator<Item = Role>,
        scopes: Scopes,
    ) -> Result<Grant, AccessError> {
        let roles: BTreeSet<Role> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(AccessError::NoRole);
        }
        let Scopes {
            town,
            grids,
            enterprise,
            team,
        } = scopes;
        if grids.len() > MAX_GRIDS {
            return Err(AccessError::TooManyGrids { given: grids.len() });
        }
        for grid in &grids {
            check_id("grid", grid)?;
        }
        if let Some(enterprise) = &enterprise {
            check_id("enterprise", enterprise)?;
        }
        if let Some(team) = &team {
            check_id("team", team)?;
        }
        let grids: Vec<String> = grids
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();

        let has = |role| roles.contains(&role);
        if has(Role::Inspector) && !town && grids.is_empty() {
            return Err(AccessError::MissingScope {
                role: Role::Inspector,
                needs: "either `town: true` or at least one grid",
            });
        }
        if has(Role::EnterpriseManager) && enterprise.is_none() {
            return Err(AccessError::MissingScope {
                role: Role::EnterpriseManager,
                needs: "an enterprise",
            });
        }
        if has(Role::TeamLead) && (enterprise.is_none() || team.is_none()) {
            return Err(AccessError::MissingScope {
                role: Role::TeamLead,
                needs: "an enterprise and a team of it",
            });
        }
        if (town || !grids.is_empty()) && !has(Role::Inspector) {
            return Err(AccessError::UnusedScope {
                scope: if town { "town" } else { "grids" },
                used_by: "inspectors",
            });
        }
        if enterprise.is_some() && !has(Role::EnterpriseManager) && !has(Role::TeamLead) {
            return Err(AccessError::UnusedScope {
                scope: "enterprise",
                used_by: "enterprise managers and team leads",
            });
        }
        if team.is_some() && !has(Role::TeamLead) {
            return Err(AccessError::UnusedScope {
                scope: "team",
                used_by: "team leads",
            });
        }
        Ok(Grant {
            roles,
            scopes: Scopes {
                town,
                grids,
                enterprise,
                team,
            },
        })
    }

    /// The roles, sorted.
    pub fn roles(&self) -> impl Iterator<Item = Role> + '_ {
        self.roles.iter().copied()
    }

    /// Whether the grant holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The scopes, normalised.
    pub fn scopes(&self) -> &Scopes {
        &self.scopes
    }

    /// The buckets (数据分区) this grant reads, for the user `user_id`: always `user:<id>` and
    /// `reference` (checklists); `town`
    /// for admins, leaders and town-wide inspectors; `grid:<id>` per grid of an inspector;
    /// `enterprise:<id>` for an enterprise manager; `team:<enterprise>/<team>` for a team lead;
    /// `directory:<enterprise>` for both;
    /// `public` for publicists and reviewers; `review` for reviewers. Sorted, without repeats.
    pub fn buckets(&self, user_id: &str) -> Vec<String> {
        let mut buckets = vec![
            format!("user:{user_id}"),
            crate::entity::REFERENCE.to_string(),
        ];
        let scopes = &self.scopes;
        if self.has(Role::Admin)
            || self.has(Role::Leader)
            || (self.has(Role::Inspector) && scopes.town)
        {
            buckets.push(crate::entity::TOWN.to_string());
        }
        if self.has(Role::Inspector) {
            buckets.extend(scopes.grids.iter().map(|g| format!("grid:{g}")));
        }
        if let Some(enterprise) = &scopes.enterprise {
            if self.has(Role::EnterpriseManager) || self.has(Role::TeamLead) {
                buckets.push(format!("directory:{enterprise}"));
            }
            if self.has(Role::EnterpriseManager) {
                buckets.push(format!("enterprise:{enterprise}"));
            }
            if let (true, Some(team)) = (self.has(Role::TeamLead), &scopes.team) {
                buckets.push(format!("team:{enterprise}/{team}"));
            }
        }
        if self.has(Role::Publicist) || self.has(Role::Reviewer) {
            buckets.push(crate::entity::PUBLIC.to_string());
        }
        if self.has(Role::Reviewer) {
            buckets.push(crate::entity::REVIEW.to_string());
        }
        buckets.sort();
        buckets.dedup();
        buckets
    }

    /// Whether the user `user_id` with this grant reads an entity of `scope`: one of its
    /// buckets is theirs.
    pub fn reads(&self, user_id: &str, scope: &crate::entity::EntityScope) -> bool {
        let mine = self.buckets(user_id);
        scope
            .buckets()
            .iter()
            .any(|bucket| mine.binary_search(bucket).is_ok())
    }

    /// Whether an inspector of this grant covers `grid` (town-wide inspectors cover every grid).
    pub fn inspects(&self, grid: Option<&str>) -> bool {
        self.has(Role::Inspector)
            && (self.scopes.town
                || grid.is_some_and(|g| self.scopes.grids.iter().any(|mine| mine == g)))
    }

    /// Whether this grant manages `enterprise`.
    pub fn manages(&self, enterprise: &str) -> bool {
        self.has(Role::EnterpriseManager) && self.scopes.enterprise.as_deref() == Some(enterprise)
    }

    /// Whether this grant leads `team` of `enterprise`.
    pub fn leads(&self, enterprise: &str, team: &str) -> bool {
        self.has(Role::TeamLead)
            && self.scopes.enterprise.as_deref() == Some(enterprise)
            && self.scopes.team.as_deref() == Some(team)
    }
}

fn check_id(what: &'static str, id: &str) -> Result<(), AccessError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AccessError::BadId {
            what,
            id: id.chars().take(MAX_ID_LEN + 8).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(town: bool, grids: &[&str], enterprise: Option<&str>, team: Option<&str>) -> Scopes {
        Scopes {
            town,
            grids: grids.iter().map(|g| g.to_string()).collect(),
            enterprise: enterprise.map(str::to_string),
            team: team.map(str::to_string),
        }
    }

    #[test]
    fn town_roles_need_no_scope() {
        for role in [Role::Admin, Role::Leader, Role::Publicist, Role::Reviewer] {
            let grant = Grant::new([role], Scopes::default()).unwrap();
            assert!(grant.has(role));
        }
    }

    #[test]
    fn inspector_needs_town_or_grids() {
        assert_eq!(
            Grant::new([Role::Inspector], Scopes::default()).unwrap_err(),
            AccessError::MissingScope {
                role: Role::Inspector,
                needs: "either `town: true` or at least one grid"
            }
        );
        Grant::new([Role::Inspector], scopes(true, &[], None, None)).unwrap();
        let grant = Grant::new(
            [Role::Inspector],
            scopes(false, &["g2", "g1", "g2"], None, None),
        )
        .unwrap();
        assert_eq!(
            grant.scopes().grids,
            vec!["g1", "g2"],
            "grids are sorted and merged"
        );
    }

    #[test]
    fn enterprise_roles_need_their_scopes() {
        assert!(matches!(
            Grant::new([Role::EnterpriseManager], Scopes::default()),
            Err(AccessError::MissingScope {
                role: Role::EnterpriseManager,
                ..
            })
        ));
        assert!(matches!(
            Grant::new([Role::TeamLead], scopes(false, &[], Some("e1"), None)),
            Err(AccessError::MissingScope {
                role: Role::TeamLead,
                ..
            })
        ));
        Grant::new([Role::TeamLead], scopes(false, &[], Some("e1"), Some("t1"))).unwrap();
        Grant::new(
            [Role::EnterpriseManager],
            scopes(false, &[], Some("e1"), None),
        )
        .unwrap();
    }

    #[test]
    fn scopes_without_a_role_that_uses_them_are_refused() {
        assert!(matches!(
            Grant::new([Role::Admin], scopes(false, &["g1"], None, None)),
            Err(AccessError::UnusedScope { scope: "grids", .. })
        ));
        assert!(matches!(
            Grant::new([Role::Inspector], scopes(true, &[], Some("e1"), None)),
            Err(AccessError::UnusedScope {
                scope: "enterprise",
                ..
            })
        ));
        assert!(matches!(
            Grant::new(
                [Role::EnterpriseManager],
                scopes(false, &[], Some("e1"), Some("t1"))
            ),
            Err(AccessError::UnusedScope { scope: "team", .. })
        ));
    }

    #[test]
    fn ids_are_checked() {
        for bad in ["", "has space", "斜杠", &"x".repeat(MAX_ID_LEN + 1)] {
            assert!(
                matches!(
                    Grant::new(
                        [Role::EnterpriseManager],
                        scopes(false, &[], Some(bad), None)
                    ),
                    Err(AccessError::BadId {
                        what: "enterprise",
                        ..
                    })
                ),
                "{bad:?} should be refused"
            );
        }
        let many: Vec<String> = (0..=MAX_GRIDS).map(|i| format!("g{i}")).collect();
        let too_many = Scopes {
            grids: many,
            ..Scopes::default()
        };
        assert!(matches!(
            Grant::new([Role::Inspector], too_many),
            Err(AccessError::TooManyGrids { .. })
        ));
    }

    #[test]
    fn no_role_is_refused_and_roles_merge() {
        assert_eq!(
            Grant::new([], Scopes::default()).unwrap_err(),
            AccessError::NoRole
        );
        let grant = Grant::new(
            [Role::Reviewer, Role::Admin, Role::Reviewer],
            Scopes::default(),
        )
        .unwrap();
        assert_eq!(
            grant.roles().collect::<Vec<_>>(),
            vec![Role::Admin, Role::Reviewer]
        );
    }

    #[test]
    fn buckets_follow_roles_and_scopes() {
        let admin = Grant::new([Role::Admin], Scopes::default()).unwrap();
        assert_eq!(admin.buckets("u1"), vec!["reference", "town", "user:u1"]);
        let inspector =
            Grant::new([Role::Inspector], scopes(false, &["g2", "g1"], None, None)).unwrap();
        assert_eq!(
            inspector.buckets("u2"),
            vec!["grid:g1", "grid:g2", "reference", "user:u2"]
        );
        assert!(
            inspector.inspects(Some("g1"))
                && !inspector.inspects(Some("g3"))
                && !inspector.inspects(None)
        );
        let lead =
            Grant::new([Role::TeamLead], scopes(false, &[], Some("e1"), Some("t1"))).unwrap();
        assert_eq!(
            lead.buckets("u3"),
            vec!["directory:e1", "reference", "team:e1/t1", "user:u3"]
        );
        assert!(lead.leads("e1", "t1") && !lead.leads("e2", "t1") && !lead.manages("e1"));
        let writer = Grant::new([Role::Publicist, Role::Reviewer], Scopes::default()).unwrap();
        assert_eq!(
            writer.buckets("u4"),
            vec!["public", "reference", "review", "user:u4"]
        );
    }

    #[test]
    fn role_names_round_trip_and_match_serde() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        assert_eq!(Role::parse("root"), None);
    }
}

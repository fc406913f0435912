//! The operator's high-risk destination list: number prefixes with an action (block, step-up,
//! monitor, allow), a category, a source, an optional expiry and a note. A destination matches
//! the longest prefix in force at the call's instant; among entries of that same prefix,
//! `allow` beats `block`, which beats `step_up`, which beats `monitor`. The list is versioned
//! and replaced whole.

use jiff::Timestamp;
use std::collections::HashMap;

/// What an entry does to a call that matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RiskAction {
    /// Never refused by this list (a known-good range inside a blocked one).
    Allow,
    /// Refused: `fraud_destination_blocked`.
    Block,
    /// Refused unless the tenant approved the entry's prefix; then a high-risk call (capped).
    StepUp,
    /// Allowed, counted as high-risk (capped), and alerted.
    Monitor,
}

impl RiskAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskAction::Allow => "allow",
            RiskAction::Block => "block",
            RiskAction::StepUp => "step_up",
            RiskAction::Monitor => "monitor",
        }
    }

    pub fn parse(text: &str) -> Option<RiskAction> {
        Some(match text {
            "allow" => RiskAction::Allow,
            "block" => RiskAction::Block,
            "step_up" => RiskAction::StepUp,
            "monitor" => RiskAction::Monitor,
            _ => return None,
        })
    }
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskEntry {
    /// Digits after the `+`, 1 to 15 of them.
    pub prefix: String,
    pub action: RiskAction,
    pub category: String,
    pub source: String,
    pub expires: Option<Timestamp>,
    pub note: String,
}

/// Why an entry cannot be in a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEntry {
    #[error("prefix {0:?} is not 1 to 15 digits after an optional +")]
    Prefix(String),
    #[error("prefix +{0} appears twice with the action {1}")]
    Duplicate(String, &'static str),
    #[error("the list has more than {0} entries")]
    TooMany(usize),
}

/// The most entries a list may have.
pub const MAX_ENTRIES: usize = 100_000;

/// A version of the list, indexed by prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskList {
    pub version: u32,
    by_prefix: HashMap<String, Vec<RiskEntry>>,
    len: usize,
}

/// `text` with an optional leading `+`, as digits, when it is 1 to 15 ASCII digits.
pub fn prefix_digits(text: &str) -> Option<&str> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let ok = (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(digits)
}

impl RiskList {
    /// A list of `entries` at `version`, refused whole on the first bad entry.
    pub fn new(version: u32, entries: Vec<RiskEntry>) -> Result<RiskList, (usize, BadEntry)> {
        if entries.len() > MAX_ENTRIES {
            return Err((MAX_ENTRIES, BadEntry::TooMany(MAX_ENTRIES)));
        }
        let mut list = RiskList {
            version,
            ..RiskList::default()
        };
        for (i, mut entry) in entries.into_iter().enumerate() {
            let Some(digits) = prefix_digits(&entry.prefix) else {
                return Err((i, BadEntry::Prefix(entry.prefix)));
            };
            entry.prefix = digits.to_string();
            let same = list.by_prefix.entry(entry.prefix.clone()).or_default();
            if same.iter().any(|e| e.action == entry.action) {
                return Err((i, BadEntry::Duplicate(entry.prefix, entry.action.as_str())));
            }
            same.push(entry);
            same.sort_by_key(|e| e.action);
            list.len += 1;
        }
        Ok(list)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, by prefix then action.
    pub fn entries(&self) -> Vec<&RiskEntry> {
        let mut all: Vec<&RiskEntry> = self.by_prefix.values().flatten().collect();
        all.sort_by(|a, b| (&a.prefix, a.action).cmp(&(&b.prefix, b.action)));
        all
    }

    /// The entry `digits` (a number's digits, no `+`) matches at `at`: the longest prefix
    /// with an entry in force, and of its entries the strongest action. At most 15 lookups.
    pub fn lookup(&self, digits: &str, at: Timestamp) -> Option<&RiskEntry> {
        if self.by_prefix.is_empty() {
            return None;
        }
        (1..=digits.len().min(15)).rev().find_map(|len| {
            let entries = self.by_prefix.get(digits.get(..len)?)?;
            entries.iter().find(|e| e.expires.is_none_or(|x| at < x))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prefix: &str, action: RiskAction, expires: Option<&str>) -> RiskEntry {
        RiskEntry {
            prefix: prefix.to_string(),
            action,
            category: "irsf".to_string(),
            source: "test".to_string(),
            expires: expires.map(|t| t.parse().unwrap()),
            note: String::new(),
        }
    }

    #[test]
    fn longest_prefix_in_force_and_allow_beats_block() {
        let at: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let list = RiskList::new(
            3,
            vec![
                entry("+44", RiskAction::Monitor, None),
                entry("4470", RiskAction::Block, None),
                entry("447010", RiskAction::Allow, None),
                entry("447010", RiskAction::Block, None),
                entry("4471", RiskAction::Block, Some("2026-02-01T00:00:00Z")),
            ],
        )
        .unwrap();
        let action = |n: &str| list.lookup(n, at).map(|e| e.action);
        assert_eq!(action("447012345678"), Some(RiskAction::Block));
        assert_eq!(action("447010123456"), Some(RiskAction::Allow));
        assert_eq!(action("447112345678"), Some(RiskAction::Monitor), "expired");
        assert_eq!(action("33144556677"), None);
    }

    #[test]
    fn a_bad_entry_refuses_the_list_naming_it() {
        let bad = RiskList::new(
            1,
            vec![
                entry("44", RiskAction::Block, None),
                entry("4x", RiskAction::Block, None),
            ],
        );
        assert_eq!(bad, Err((1, BadEntry::Prefix("4x".to_string()))));
        let twice = RiskList::new(
            1,
            vec![
                entry("44", RiskAction::Block, None),
                entry("+44", RiskAction::Block, None),
            ],
        );
        assert!(matches!(twice, Err((1, BadEntry::Duplicate(..)))));
    }
}

//! Who pays a charged call (C18, C19, C21, C32, C33). A leaf of the core's module graph: the
//! live reservations record it at authorization and the engine at every charge.

/// Who pays a charged call, as reported in the extended export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Funding {
    /// Included in the subscription (toll dial-in).
    Included,
    /// The US/Canada add-on.
    AddOn,
    /// The dial-out minute pool alone.
    Pool,
    /// The pool for its remaining minutes, credits for the rest (C32).
    PoolAndCredits,
    /// Credits at the rate.
    Credits,
}

impl Funding {
    pub fn as_str(self) -> &'static str {
        match self {
            Funding::Included => "included",
            Funding::AddOn => "add_on",
            Funding::Pool => "pool",
            Funding::PoolAndCredits => "pool_and_credits",
            Funding::Credits => "credits",
        }
    }

    pub fn parse(text: &str) -> Option<Funding> {
        [
            Funding::Included,
            Funding::AddOn,
            Funding::Pool,
            Funding::PoolAndCredits,
            Funding::Credits,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }
}

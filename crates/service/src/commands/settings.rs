//! A key's own settings, as commands: the console language it keeps.

use crate::commands::{Answer, FromAnswer};
use crate::error::ServiceResult;
use crate::writer::Ctx;
use minutely_core::lang::Lang;

/// A write of a key's settings.
pub enum SettingsCommand {
    /// Keep `lang` as the preferred language of the key `key_id`.
    PreferredLang { key_id: String, lang: Lang },
}

/// What a settings command did.
#[derive(Debug, Clone)]
pub enum SettingsAnswer {
    PreferredLangSet,
}

impl SettingsCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<SettingsAnswer> {
        match self {
            SettingsCommand::PreferredLang { key_id, lang } => {
                let now = ctx.now;
                ctx.store.set_preferred_lang(&key_id, lang.tag(), now)?;
                Ok(SettingsAnswer::PreferredLangSet)
            }
        }
    }
}

impl FromAnswer for SettingsAnswer {
    fn from_answer(answer: Answer) -> Option<SettingsAnswer> {
        match answer {
            Answer::Settings(a) => Some(a),
            _ => None,
        }
    }
}

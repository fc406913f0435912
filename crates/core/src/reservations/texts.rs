//! `Texts`: the texts of a tenant's reservations (conference ids, organizers, numbers), each
//! stored once however many calls name it, by a small index counted by its uses.

use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};

/// Interned texts: `intern` gives the index of a text (storing it when new) and counts one
/// more use; `release` counts one less and forgets the text after its last use.
#[derive(Clone, Default)]
pub(super) struct Texts {
    /// The indexes of `texts`, found by the hash of their text.
    index: HashTable<u32>,
    /// Each text and how many uses it has; `None` once forgotten (its index is vacant).
    texts: Vec<Option<Text>>,
    /// Vacant indexes of `texts`, reused last-in first-out.
    vacant: Vec<u32>,
    hasher: RandomState,
}

#[derive(Clone)]
struct Text {
    text: Box<str>,
    uses: u32,
}

impl Texts {
    /// True when no text is kept.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.texts.is_empty() && self.index.is_empty()
    }

    /// The text of index `i`, which is in use.
    pub(super) fn get(&self, i: u32) -> &str {
        &self.text(i).text
    }

    fn text(&self, i: u32) -> &Text {
        self.texts[i as usize]
            .as_ref()
            .expect("an interned text is kept while it is used")
    }

    /// The index of `text`, with one more use.
    pub(super) fn intern(&mut self, text: &str) -> u32 {
        let hash = self.hasher.hash_one(text);
        let texts = &mut self.texts;
        let found = self.index.find(hash, |&i| {
            texts[i as usize].as_ref().is_some_and(|t| &*t.text == text)
        });
        if let Some(&i) = found {
            let t = texts[i as usize].as_mut().expect("an indexed text is kept");
            t.uses = t
                .uses
                .checked_add(1)
                .expect("uses are bounded by the slots");
            return i;
        }
        let entry = Some(Text {
            text: text.into(),
            uses: 1,
        });
        let i = match self.vacant.pop() {
            Some(i) => {
                texts[i as usize] = entry;
                i
            }
            None => {
                texts.push(entry);
                u32::try_from(texts.len() - 1).expect("texts are bounded by the slots")
            }
        };
        let hasher = &self.hasher;
        self.index.insert_unique(hash, i, |&j| {
            let t = texts[j as usize].as_ref().expect("an indexed text is kept");
            hasher.hash_one(&*t.text)
        });
        i
    }

    /// One use less of index `i`: the text is forgotten after its last use.
    pub(super) fn release(&mut self, i: u32) {
        let t = self.texts[i as usize]
            .as_mut()
            .expect("a released text is in use");
        t.uses -= 1;
        if t.uses > 0 {
            return;
        }
        let hash = self.hasher.hash_one(&*t.text);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j == i) {
            entry.remove();
        }
        self.texts[i as usize] = None;
        if self.index.is_empty() {
            *self = Texts {
                hasher: self.hasher.clone(),
                ..Texts::default()
            };
        } else {
            self.vacant.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_kept_once_while_used_and_forgotten_after_its_last_use() {
        let mut texts = Texts::default();
        let a = texts.intern("ana@x.example");
        let b = texts.intern("+33 1 44 55 66 77");
        assert_eq!(texts.intern("ana@x.example"), a);
        assert_ne!(a, b);
        assert_eq!(texts.get(a), "ana@x.example");
        assert_eq!(texts.index.len(), 2);
        texts.release(a);
        assert_eq!(texts.get(a), "ana@x.example", "one use is left");
        texts.release(a);
        assert_eq!(texts.index.len(), 1);
        let c = texts.intern("");
        assert_eq!(c, a, "a forgotten text's index is reused");
        assert_eq!(texts.get(c), "");
        assert_eq!(texts.get(b), "+33 1 44 55 66 77");
        texts.release(b);
        texts.release(c);
        assert!(
            texts.texts.is_empty(),
            "nothing is kept once no text is used"
        );
    }
}

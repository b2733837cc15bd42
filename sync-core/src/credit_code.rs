//! The unified social credit code (统一社会信用代码, GB 32100-2015) of an enterprise.
//!
//! Eighteen characters from `0-9 A-H J-N P-R T U W-Y` (no I, O, S, V, Z): a registration
//! authority code, an organisation type, a six-digit administrative division, a nine-character
//! organisation code, and a check character. The check character is `31 − (Σ value × weight mod
//! 31)` (31 becoming 0) over the first seventeen, with weights 3^i mod 31.
//!
//! A code of the wrong length or with characters outside the set is refused. A code whose check
//! character does not match is *kept with a warning*: some codes issued early in the scheme's life
//! fail the check and are nevertheless the enterprise's legal code.

/// The characters of a code, in value order (value = index).
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check of a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditCodeCheck {
    /// Well formed and the check character matches.
    Valid,
    /// Well formed, but the check character does not match: keep it, flag it.
    CheckDigitMismatch {
        /// The check character the first seventeen give.
        expected: char,
    },
}

/// Why a code is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not eighteen characters.
    #[error("a unified social credit code (统一社会信用代码) has 18 characters, this one has {0}")]
    Length(usize),
    /// A character outside the code's alphabet.
    #[error(
        "`{0}` cannot appear in a unified social credit code (统一社会信用代码); it uses 0-9 and A-Y without I, O, S, V, Z"
    )]
    Character(char),
}

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// Checks a code (upper case; callers normalise input first).
pub fn check(code: &str) -> Result<CreditCodeCheck, CreditCodeError> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(CreditCodeError::Length(chars.len()));
    }
    let mut values = Vec::with_capacity(18);
    for &c in &chars {
        values.push(value(c).ok_or(CreditCodeError::Character(c))?);
    }
    let mut weight = 1u32;
    let mut sum = 0u32;
    for v in &values[..17] {
        // At most 17 × 30 × 30: no step can overflow, and saturating says so without a panic.
        sum = sum.saturating_add(v.saturating_mul(weight));
        weight = weight.saturating_mul(3) % 31;
    }
    let expected = 31u32.saturating_sub(sum % 31) % 31;
    if values[17] == expected {
        Ok(CreditCodeCheck::Valid)
    } else {
        let expected = ALPHABET.chars().nth(expected as usize).unwrap_or('0');
        Ok(CreditCodeCheck::CheckDigitMismatch { expected })
    }
}

/// A code as a person typed it: trimmed and in upper case.
pub fn normalise(typed: &str) -> String {
    typed.trim().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_check() {
        // Codes printed on public business licences (large, well-known companies).
        for code in [
            "914403001922038216",
            "9144030071526726XG",
            "91330100716105852F",
            "91110108551385082Q",
        ] {
            assert_eq!(check(code), Ok(CreditCodeCheck::Valid), "{code}");
        }
    }

    #[test]
    fn a_wrong_check_character_is_kept_with_a_warning() {
        assert_eq!(
            check("914403001922038217"),
            Ok(CreditCodeCheck::CheckDigitMismatch { expected: '6' })
        );
    }

    #[test]
    fn bad_lengths_and_characters_are_refused() {
        assert_eq!(check("9135010"), Err(CreditCodeError::Length(7)));
        assert_eq!(
            check("91350100M000100YI3"),
            Err(CreditCodeError::Character('I'))
        );
        assert_eq!(
            check("91350100m000100Y43"),
            Err(CreditCodeError::Character('m'))
        );
        assert_eq!(normalise(" 91350100m000100y43 "), "91350100M000100Y43");
    }
}

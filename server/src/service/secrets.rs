//! Secrets handed to clients, and password hashes.
//!
//! A *session token* is `anj_` followed by 32 random bytes in unpadded base64url (256 bits). An
//! *invitation code* is 12 characters of Crockford base32 (60 bits), shown as `XXXX-XXXX-XXXX`
//! so it can be read out over the phone; it is accepted in any case, with or without dashes or
//! spaces, and with `O`/`I`/`L` read as `0`/`1`/`1`. The server stores only the sha256 of
//! either. Passwords are hashed with argon2id in PHC string form, at 7 MiB and five passes: of
//! the settings OWASP's password storage guidance holds equal in strength (19 MiB and two
//! passes, 12 MiB and three, 9 MiB and four, 7 MiB and five), the one that takes least memory
//! per login, so that logins at once do not set the server's peak. A hash made with other
//! settings is verified with the settings it names.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHash as PhcHash, Version};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::store::model::{PasswordHash, SecretHash};

const TOKEN_PREFIX: &str = "anj_";
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const INVITATION_LEN: usize = 12;

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The operating system's generator failing is not something a server can work around.
    #[allow(
        clippy::expect_used,
        reason = "no secure randomness means no secure server"
    )]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

fn sha256(bytes: &[u8]) -> SecretHash {
    SecretHash(Sha256::digest(bytes).into())
}

/// A new session token and its hash.
pub fn new_token() -> (SecretString, SecretHash) {
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    );
    let hash = sha256(token.as_bytes());
    (SecretString::from(token), hash)
}

/// The hash a presented token is stored under.
pub fn token_hash(token: &str) -> SecretHash {
    sha256(token.as_bytes())
}

/// The CSRF token of a session (the console's forms carry it): derived from the session token,
/// so it lives and dies with the session and needs no storage, and it cannot be turned back
/// into the session token.
pub fn csrf_token(session_token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"anjian-console-csrf\0");
    hash.update(session_token.as_bytes());
    hex::encode(hash.finalize())
}

/// Whether `sent` is the CSRF token of the session `session_token`, compared in constant time.
pub fn csrf_holds(session_token: &str, sent: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    csrf_token(session_token)
        .as_bytes()
        .ct_eq(sent.as_bytes())
        .into()
}

/// A new invitation code, formatted for people, and its hash.
pub fn new_invitation_code() -> (String, SecretHash) {
    let code: String = random_bytes::<INVITATION_LEN>()
        .iter()
        .map(|b| char::from(CROCKFORD[usize::from(b & 31)]))
        .collect();
    let hash = sha256(code.as_bytes());
    let shown = format!("{}-{}-{}", &code[0..4], &code[4..8], &code[8..12]);
    (shown, hash)
}

/// The hash of an invitation code as a person typed it, or `None` when it cannot be one.
pub fn invitation_hash(typed: &str) -> Option<SecretHash> {
    let mut code = String::with_capacity(INVITATION_LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) || code.len() == INVITATION_LEN {
            return None;
        }
        code.push(c);
    }
    (code.len() == INVITATION_LEN).then(|| sha256(code.as_bytes()))
}

/// A random password for the first admin, when none was given.
pub fn new_password() -> SecretString {
    SecretString::from(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<15>()),
    )
}

/// Argon2id's memory, KiB, and passes for new hashes (see the module's head).
const ARGON2_MEMORY_KIB: u32 = 7 * 1024;
const ARGON2_PASSES: u32 = 5;

/// The hasher of new passwords.
fn argon2() -> Result<Argon2<'static>, String> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, None)
        .map_err(|err| format!("cannot set the password hash's cost: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password (slow by design: call it off the async executor).
pub fn hash_password(password: &SecretString) -> Result<PasswordHash, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| PasswordHash(hash.to_string()))
        .map_err(|err| format!("cannot hash a password: {err}"))
}

/// Whether `hash` was made with the settings new hashes take; one that was not is made again
/// when its user next logs in.
pub fn is_current(hash: &PasswordHash) -> bool {
    let current = format!("$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_PASSES},p=1$");
    hash.0.starts_with(&current)
}

/// Whether `password` matches `hash`. With no hash it still does the same work, against a
/// throw-away hash, so that an unknown username takes as long to refuse as a wrong password.
pub fn verify_password(password: &SecretString, hash: Option<&PasswordHash>) -> bool {
    static DECOY: OnceLock<Option<PasswordHash>> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash_password(&new_password()).ok());
    let (hash, real) = match (hash, decoy) {
        (Some(hash), _) => (hash, true),
        (None, Some(decoy)) => (decoy, false),
        (None, None) => return false,
    };
    let Ok(parsed) = PhcHash::new(&hash.0) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), &parsed)
        .is_ok();
    real && matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_the_sessions_and_no_other() {
        let token = csrf_token("session-a");
        assert_eq!(token.len(), 64);
        assert!(csrf_holds("session-a", &token));
        assert!(!csrf_holds("session-b", &token));
        assert!(!csrf_holds("session-a", ""));
        assert!(!csrf_holds("session-a", &token[..63]));
        assert_ne!(csrf_token("session-b"), token);
    }

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with("anj_"));
        assert_eq!(
            a.expose_secret().len(),
            4 + 43,
            "32 bytes in unpadded base64"
        );
        assert_eq!(token_hash(a.expose_secret()), hash_a);
    }

    #[test]
    fn invitation_codes_survive_how_people_type_them() {
        let (code, hash) = new_invitation_code();
        assert_eq!(code.len(), 14);
        assert_eq!(invitation_hash(&code), Some(hash));
        assert_eq!(
            invitation_hash(&code.to_lowercase().replace('-', " ")),
            Some(hash)
        );
        let plain = code.replace('-', "");
        let confusable: String = plain
            .chars()
            .map(|c| if c == '0' { 'o' } else { c })
            .collect();
        assert_eq!(invitation_hash(&confusable), Some(hash));
        assert_eq!(invitation_hash("short"), None);
        assert_eq!(invitation_hash(&format!("{plain}0")), None);
        assert_eq!(invitation_hash("ABCD-EFGH-JKM!"), None);
        assert_eq!(
            invitation_hash("ABCD-EFGH-JKMU"),
            None,
            "U is not Crockford base32"
        );
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let password = SecretString::from("correct horse battery".to_string());
        let hash = hash_password(&password).unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(verify_password(&password, Some(&hash)));
        assert!(!verify_password(
            &SecretString::from("wrong".to_string()),
            Some(&hash)
        ));
        assert!(!verify_password(&password, None));
    }

    #[test]
    fn new_hashes_take_7_mib_and_older_ones_still_verify() {
        let password = SecretString::from("correct horse battery".to_string());
        let hash = hash_password(&password).unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "{}",
            hash.0
        );
        // Made with the library's defaults (19 MiB, two passes), as earlier versions did.
        let salt = SaltString::generate(&mut OsRng);
        let older = Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let older = PasswordHash(older);
        assert!(is_current(&hash) && !is_current(&older));
        assert!(verify_password(&password, Some(&older)));
        assert!(!verify_password(
            &SecretString::from("wrong".to_string()),
            Some(&older)
        ));
    }
}

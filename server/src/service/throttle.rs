//! Refusing repeated failed logins (登录失败限制), per username and per client address.
//!
//! Each *key* (a username, or a client address) counts its failures within a *window*. Once a
//! key has failed `limit` times, every further try on it is refused before the password is even
//! checked, for a *lock-out* that starts at `lockout` and doubles with each further failure, up
//! to the window. A window with no failure forgets the key; a successful login forgets its
//! username key (not its address key: one address guessing many accounts stays suspect).
//!
//! An attempt is counted as a failure when it *begins* ([`LoginThrottle::begin`]), under the same
//! lock as the check, and taken back when it succeeds ([`LoginThrottle::succeeded`]). So a burst
//! of parallel tries cannot all pass the check before any of them has failed.
//!
//! The counts live in memory: a restart forgets them, which costs an attacker a restart they
//! cannot cause. Memory is bounded: past [`MAX_KEYS`] keys, the ones not locked are forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthSettings;

/// The most keys remembered at once.
pub const MAX_KEYS: usize = 100_000;

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A username (normalised).
    User(String),
    /// A client address.
    Addr(IpAddr),
}

#[derive(Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The failure counts and their policy.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user: u32,
    per_addr: u32,
    window: Duration,
    lockout: Duration,
    keys: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl LoginThrottle {
    /// A throttle with the configured policy.
    pub fn new(settings: &AuthSettings) -> LoginThrottle {
        LoginThrottle {
            per_user: settings.max_failures_per_user,
            per_addr: settings.max_failures_per_address,
            window: Duration::from_secs(settings.failure_window_secs),
            lockout: Duration::from_secs(settings.lockout_secs),
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Failures>> {
        // A panic while holding this lock cannot leave the counts inconsistent in a way that
        // matters, so a poisoned lock is used as it is.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Begins an attempt: `Err(wait)` when any of `keys` is locked out at `now`; otherwise the
    /// attempt is counted as a failure against each key until [`LoginThrottle::succeeded`].
    pub fn begin(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let mut map = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| map.get(key)?.locked_until)
            .filter_map(|until| until.checked_duration_since(now))
            .filter(|wait| !wait.is_zero())
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        self.count(&mut map, keys, now);
        Ok(())
    }

    /// Takes back a begun attempt that succeeded: its username key is forgotten, its address
    /// key counts one failure less.
    pub fn succeeded(&self, keys: &[ThrottleKey]) {
        let mut map = self.lock();
        for key in keys {
            match key {
                ThrottleKey::User(_) => {
                    map.remove(key);
                }
                ThrottleKey::Addr(_) => {
                    if let Some(entry) = map.get_mut(key) {
                        entry.count = entry.count.saturating_sub(1);
                        if entry.count < self.per_addr {
                            entry.locked_until = None;
                        }
                    }
                }
            }
        }
    }

    fn count(&self, map: &mut HashMap<ThrottleKey, Failures>, keys: &[ThrottleKey], now: Instant) {
        if map.len() >= MAX_KEYS {
            map.retain(|_, f| f.locked_until.is_some_and(|until| until > now));
        }
        for key in keys {
            let limit = match key {
                ThrottleKey::User(_) => self.per_user,
                ThrottleKey::Addr(_) => self.per_addr,
            };
            let entry = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if now.duration_since(entry.last) > self.window {
                *entry = Failures {
                    count: 0,
                    last: now,
                    locked_until: None,
                };
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            if entry.count >= limit {
                let doublings = (entry.count - limit).min(16);
                let lockout = self.lockout.saturating_mul(1 << doublings).min(self.window);
                entry.locked_until = Some(now + lockout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(&AuthSettings {
            max_failures_per_user: 3,
            max_failures_per_address: 5,
            failure_window_secs: 600,
            lockout_secs: 10,
            ..AuthSettings::default()
        })
    }

    #[test]
    fn locks_after_the_limit_and_doubles() {
        let t = throttle();
        let key = [ThrottleKey::User("li".into())];
        let start = Instant::now();
        for _ in 0..3 {
            assert!(t.begin(&key, start).is_ok());
        }
        assert_eq!(t.begin(&key, start), Err(Duration::from_secs(10)));
        let later = start + Duration::from_secs(11);
        assert!(t.begin(&key, later).is_ok(), "the lock-out ends");
        assert_eq!(
            t.begin(&key, later),
            Err(Duration::from_secs(20)),
            "and doubles"
        );
    }

    #[test]
    fn address_and_user_limits_are_separate_and_success_clears_the_user() {
        let t = throttle();
        let addr = ThrottleKey::Addr("127.0.0.1".parse().unwrap());
        let now = Instant::now();
        for i in 0..5 {
            let keys = [ThrottleKey::User(format!("user{i}")), addr.clone()];
            assert!(t.begin(&keys, now).is_ok());
        }
        assert!(t.begin(&[ThrottleKey::User("user0".into())], now).is_ok());
        let fresh = [ThrottleKey::User("new".into()), addr.clone()];
        assert!(t.begin(&fresh, now).is_err());

        let user = [ThrottleKey::User("wang".into())];
        assert!(t.begin(&user, now).is_ok());
        assert!(t.begin(&user, now).is_ok());
        t.succeeded(&user);
        assert!(t.begin(&user, now).is_ok());
        assert!(t.begin(&user, now).is_ok(), "the success reset the count");
    }

    #[test]
    fn a_parallel_burst_cannot_pass_the_limit() {
        let t = throttle();
        let key = [ThrottleKey::User("burst".into())];
        let now = Instant::now();
        let passed = (0..50).filter(|_| t.begin(&key, now).is_ok()).count();
        assert_eq!(
            passed, 3,
            "attempts count when they begin, not when they fail"
        );
    }

    #[test]
    fn a_quiet_window_forgets() {
        let t = throttle();
        let key = [ThrottleKey::User("zhao".into())];
        let now = Instant::now();
        assert!(t.begin(&key, now).is_ok());
        assert!(t.begin(&key, now).is_ok());
        let later = now + Duration::from_secs(601);
        assert!(t.begin(&key, later).is_ok());
        assert!(
            t.begin(&key, later).is_ok(),
            "the earlier failures were forgotten"
        );
    }
}

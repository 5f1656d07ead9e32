//! In-process ceilings, measured in the same run as the load: what the CPU alone allows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use latchkey::domain::alg::SigningAlg;
use latchkey::domain::claims::AccessTokenClaims;
use latchkey::domain::password::{hash_password, verify_password};
use latchkey::keys::KeyMaterial;
use latchkey::keys::jws::{TYP_ACCESS_TOKEN, sign_compact};
use secrecy::SecretString;

/// The ceilings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ceilings {
    /// CPUs used (threads signing in parallel).
    pub cpus: usize,
    /// Access tokens signed per second with a cached key, all CPUs, per algorithm.
    pub signatures_per_second: BTreeMap<String, f64>,
    /// One argon2id verification, milliseconds.
    pub argon2_verify_ms: f64,
    /// CPUs / verification time: the most sign-ins per second the CPU allows (the definition).
    pub sign_ins_per_second: f64,
    /// Verifications per second actually achieved in-process with one thread per CPU (they share
    /// memory bandwidth: each touches 19 MiB).
    pub parallel_verifications_per_second: f64,
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "bench-service-client-id".into(),
        aud: "http://127.0.0.1:8080".into(),
        exp: 4_000_000_000,
        iat: 3_999_999_400,
        jti: "at_0123456789abcdefghijkl".into(),
        client_id: "bench-service-client-id".into(),
        scope: "orders:read".into(),
        gid: "cc_0123456789abcdefghijkl".into(),
        auth_time: None,
        acr: None,
        act: None,
        cnf: None,
        authorization: Default::default(),
    }
}

/// Signatures per second over `cpus` threads for one second.
fn signing(alg: SigningAlg, cpus: usize) -> f64 {
    let Ok((key, _)) = KeyMaterial::generate(alg) else {
        return f64::NAN;
    };
    let key = std::sync::Arc::new(key);
    let window = Duration::from_secs(1);
    let threads: Vec<_> = (0..cpus)
        .map(|_| {
            let key = std::sync::Arc::clone(&key);
            std::thread::spawn(move || {
                let claims = claims();
                let began = Instant::now();
                let mut signed = 0u64;
                while began.elapsed() < window {
                    if sign_compact(&key, TYP_ACCESS_TOKEN, &claims).is_ok() {
                        signed += 1;
                    }
                }
                signed as f64 / began.elapsed().as_secs_f64()
            })
        })
        .collect();
    threads.into_iter().filter_map(|t| t.join().ok()).sum()
}

/// Measure every ceiling.
pub fn measure() -> Ceilings {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let signatures_per_second = SigningAlg::ALL
        .iter()
        .map(|alg| (alg.as_str().to_owned(), signing(*alg, cpus)))
        .collect();
    let password = SecretString::from("bench password 0123456789".to_owned());
    let hash = hash_password(&password).unwrap_or_default();
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let began = Instant::now();
            let _ = verify_password(&password, Some(&hash));
            began.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let argon2_verify_ms = times[times.len() / 2];
    let parallel_verifications_per_second = parallel_verify(&password, &hash, cpus);
    Ceilings {
        parallel_verifications_per_second,
        cpus,
        signatures_per_second,
        argon2_verify_ms,
        sign_ins_per_second: cpus as f64 * 1000.0 / argon2_verify_ms,
    }
}

/// Verifications per second with `cpus` threads verifying at once for two seconds.
fn parallel_verify(password: &SecretString, hash: &str, cpus: usize) -> f64 {
    let window = Duration::from_secs(2);
    let threads: Vec<_> = (0..cpus)
        .map(|_| {
            let (password, hash) = (password.clone(), hash.to_owned());
            std::thread::spawn(move || {
                let began = Instant::now();
                let mut done = 0u64;
                while began.elapsed() < window {
                    if verify_password(&password, Some(&hash)) {
                        done += 1;
                    }
                }
                done as f64 / began.elapsed().as_secs_f64()
            })
        })
        .collect();
    threads.into_iter().filter_map(|t| t.join().ok()).sum()
}

//! A run's roles: their names, their passwords (derived, never stored), the checker's SCRAM
//! secret, and making them and giving them the run's database.

use super::{EXTENSION_SCHEMA, JUDGE_ROLE, TEMPLATE_OWNER};
use crate::lab::{Dataset, Lab};
use crate::server::Server;
use anyhow::{Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};

/// The settings of a run's roles, made right after them: a run's sessions and workers may
/// write at most 1 GB of temporary files each (lab 1's tables, all its data, take tens of
/// megabytes; a correct answer's 100k-row UPDATEs and sorts spill none), and a session left
/// idle in a transaction for 2 minutes (longer than any check's time limit) or idle for 30
/// minutes (longer than a warm spare waits for its run) is ended by the server itself, so that
/// none outlives its run even when the runner is killed. `temp_file_limit` is a superuser's
/// setting: the student cannot lift it.
pub fn run_role_settings(roles: &[&str]) -> String {
    roles
        .iter()
        .map(|role| {
            format!(
                "ALTER ROLE {role} SET temp_file_limit = '1GB';
                 ALTER ROLE {role} SET idle_in_transaction_session_timeout = '2min';
                 ALTER ROLE {role} SET idle_session_timeout = '30min';\n"
            )
        })
        .collect()
}

/// A new random tag, which names a run's database and roles.
pub fn new_tag() -> String {
    Alphanumeric
        .sample_string(&mut rand::thread_rng(), 10)
        .to_lowercase()
}

/// The run database of `lab` and `dataset` with `tag`.
pub fn run_db(lab: &Lab, dataset: &Dataset, tag: &str) -> String {
    format!("run_{}_{}_{tag}", lab.number, dataset.name)
}

/// The names of the student's and the checker's roles of the run `tag`.
pub fn names(tag: &str) -> (String, String) {
    (format!("student_{tag}"), format!("checker_{tag}"))
}

/// What the passwords of a server's run roles are derived from: the superuser's password, so
/// that a run taking a spare made by another process knows them, and no one without the
/// superuser's password can work them out (the student learns only their own, from
/// `lab_conninfo()`). A server without a superuser's password (a url server that trusts its
/// clients) gets no spares, and a random key of the command's own instead.
pub fn key(server: &Server) -> String {
    if server.password.is_empty() {
        Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
    } else {
        server.password.clone()
    }
}

/// The password of a run's role, derived from `key` and the role's name.
pub fn password(key: &str, role: &str) -> String {
    let digest = Sha256::digest(format!("{key}\0{role}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// PBKDF2 iterations of the checker role's SCRAM secret. PostgreSQL's 4096 make a guessable
/// password costly to find from its secret; a run's password is 96 random-looking bits, which
/// no number of guesses finds, while each of the checker's sessions paid 2–3 ms of the
/// runner's CPU for the 4096 (5 ms while lanes grade). The student's role keeps PostgreSQL's
/// own secret: lab 2 measures what a new dblink connection with it costs (`lab_conninfo()`).
const CHECKER_SCRAM_ITERATIONS: u32 = 16;

/// The SCRAM-SHA-256 secret of `password` (RFC 5802, 7677), in the form `CREATE ROLE ...
/// PASSWORD` stores as it is: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
/// `password` is ASCII, which SASLprep leaves as it is.
fn scram_secret(password: &str) -> String {
    scram_secret_salted(password, &rand::random())
}

fn scram_secret_salted(password: &str, salt: &[u8; 16]) -> String {
    use base64::engine::{general_purpose::STANDARD, Engine};
    use hmac::{Hmac, KeyInit, Mac};
    let hmac = |key: &[u8], parts: &[&[u8]]| -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let mut u = hmac(password.as_bytes(), &[salt, &1u32.to_be_bytes()]);
    let mut salted = u.clone();
    for _ in 1..CHECKER_SCRAM_ITERATIONS {
        u = hmac(password.as_bytes(), &[&u]);
        salted.iter_mut().zip(&u).for_each(|(s, x)| *s ^= x);
    }
    let stored = Sha256::digest(hmac(&salted, &[b"Client Key"]));
    let server = hmac(&salted, &[b"Server Key"]);
    format!(
        "SCRAM-SHA-256${CHECKER_SCRAM_ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored),
        STANDARD.encode(server)
    )
}

/// The sessions a run's student role may have at once (its own, lab 2's fresh one, dblink's):
/// an answer cannot take every connection of the server.
const STUDENT_CONNECTIONS: u32 = 20;

/// How a run's database is cloned: closed to connections until `set_up` has taken the right
/// to connect from PUBLIC, so that no other run's role ever gets in.
pub const CLOSED: &str = " ALLOW_CONNECTIONS = false";

/// Makes the roles of the run `tag` and gives them the database `db` (cloned `CLOSED`), then
/// opens it: the student's role owns it and every lab object in it, may use pg_background
/// (found through its `search_path`, which ends in the extensions' schema) and has
/// `lab_conninfo()`; the checker's may connect, read every table and write the lab's records.
pub fn set_up(
    server: &Server,
    key: &str,
    admin: &mut postgres::Client,
    db: &str,
    tag: &str,
) -> Result<()> {
    let (student, checker) = names(tag);
    let sp = password(key, &student);
    admin.batch_execute(&format!(
        "CREATE ROLE {student} LOGIN PASSWORD '{sp}' NOSUPERUSER NOCREATEDB NOCREATEROLE
             CONNECTION LIMIT {STUDENT_CONNECTIONS};
         ALTER ROLE {student} SET search_path = \"$user\", public, {EXTENSION_SCHEMA};
         ALTER ROLE {student} SET track_functions = 'all';
         CREATE ROLE {checker} LOGIN PASSWORD '{cs}' NOSUPERUSER NOCREATEDB NOCREATEROLE
             IN ROLE {JUDGE_ROLE}, pg_read_all_data, pg_read_all_stats;
         ALTER DATABASE {db} OWNER TO {student};
         REVOKE CONNECT, TEMPORARY ON DATABASE {db} FROM PUBLIC;
         GRANT CONNECT, CREATE ON DATABASE {db} TO {checker};",
        cs = scram_secret(&password(key, &checker)),
    ))?;
    admin.batch_execute(&run_role_settings(&[&student, &checker]))?;
    admin.batch_execute(&format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"))?;
    let mut run = server.connect(db)?;
    let (host, port) = server.address_inside();
    // The database's name is read when called: a spare is renamed when a run takes it.
    run.batch_execute(&format!(
        "REASSIGN OWNED BY {TEMPLATE_OWNER} TO {student};
         GRANT pgbackground_role TO {student};
         CREATE FUNCTION public.lab_conninfo() RETURNS text LANGUAGE sql STABLE
             RETURN 'host={host} port={port} dbname=' || current_database()
                    || ' user={student} password={sp}';
         GRANT EXECUTE ON FUNCTION public.lab_conninfo() TO {student};"
    ))
    .with_context(|| format!("cannot prepare the run database `{db}`"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::scram_secret_salted;

    #[test]
    fn scram_secret_is_what_pbkdf2_gives() {
        // Python: hashlib.pbkdf2_hmac('sha256', password, salt, 16), then HMAC "Client Key"
        // (hashed: StoredKey) and "Server Key".
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            scram_secret_salted("0123456789abcdef01234567", &salt),
            "SCRAM-SHA-256$16:AAECAwQFBgcICQoLDA0ODw==\
             $thgQ6b1YruRMxqzXI61i6ln4TcHN0lJ9P8tgi8aTMEQ=\
             :Sz6twCQPAwk1khj4i06/lQeW1V8aJ97macUUOBSMm4g="
        );
    }
}

//! The language of a native server's messages: Russian (`lc_messages`) when this machine has
//! the ru_RU.UTF-8 locale, else PostgreSQL's English, said once with how to get Russian.

use std::process::Command;
use std::sync::Once;

/// The locale the lab server speaks to students in, as `locale -a` may spell it.
const RUSSIAN: [&str; 2] = ["ru_RU.utf8", "ru_RU.UTF-8"];

/// The `lc_messages` line of a native server's settings: Russian when the machine has the
/// locale (PostgreSQL refuses to start with a locale that does not exist), else nothing, so that
/// docker/labs.conf's `C` stays, and a line on stderr (once a command) says how to get it.
pub fn lc_messages_setting() -> String {
    match russian_locale() {
        Some(name) => format!(
            "# Russian messages for the students (their SQLSTATEs are shown beside them): this\n\
             # machine has the locale.\nlc_messages = '{name}'\n"
        ),
        None => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "labs: this machine has no ru_RU.UTF-8 locale, so the lab server's messages \
                     stay in English; to get them in Russian run `make setup` (Debian/Ubuntu; it \
                     generates the locale) or, as root, `localedef -i ru_RU -f UTF-8 \
                     ru_RU.UTF-8`, then `labs server stop`"
                )
            });
            String::new()
        }
    }
}

/// The Russian locale's name as `locale -a` lists it, when it does.
fn russian_locale() -> Option<String> {
    let out = Command::new("locale").arg("-a").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|name| RUSSIAN.iter().any(|r| r.eq_ignore_ascii_case(name)))
        .map(str::to_string)
}

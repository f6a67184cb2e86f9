//! The url backend: a PostgreSQL server someone already runs, named by `--server-url
//! postgres://user:password@host:port`; the runner checks it can do its job there, and drops
//! only the databases and roles it made itself.

use super::{Backend, Server};
use anyhow::{bail, Context, Result};

/// The server of `url`, once it answers and its role may do what the runner needs.
pub fn connect(url: &str) -> Result<Server> {
    let config: postgres::Config = url.parse().with_context(|| {
        format!(
            "`{}` is not a PostgreSQL URL (postgres://user:password@host:port)",
            redact(url)
        )
    })?;
    let host = match config.get_hosts() {
        [postgres::config::Host::Tcp(host)] => host.clone(),
        [] => "127.0.0.1".into(),
        _ => bail!(
            "`{}` must name one TCP host (a unix socket or several hosts are not supported)",
            redact(url)
        ),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let superuser = config
        .get_user()
        .with_context(|| format!("`{}` names no user", redact(url)))?
        .to_string();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .with_context(|| {
            format!(
                "`{}` has no password: the runner connects over TCP with one",
                redact(url)
            )
        })?;
    let server = Server {
        backend: Backend::Url,
        host,
        port,
        socket_dir: None,
        superuser,
        password,
        data_dir: None,
        pg_bin: None,
        os_user: "-".into(),
        container: None,
    };
    let mut client = server
        .connect("postgres")
        .with_context(|| format!("the server of `{}` does not answer", redact(url)))?;
    let row = client.query_one(
        "SELECT rolsuper, rolcreatedb AND rolcreaterole FROM pg_roles WHERE rolname = current_user",
        &[],
    )?;
    let (superuser, can_create): (bool, bool) = (row.get(0), row.get(1));
    if !superuser && !can_create {
        bail!(
            "the role `{}` of `{}` may not create databases and roles, which every lab run \
             needs: use a superuser (or a role with CREATEDB and CREATEROLE)",
            server.superuser,
            redact(url)
        );
    }
    Ok(server)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

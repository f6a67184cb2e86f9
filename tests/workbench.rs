//! `labs serve` through its API as the pages call it: an example edited, run and reset on a
//! part's page, a lab checked from its page on a wrong answer and on the reference solution;
//! and requests without the token, from a foreign Origin or to a foreign Host refused without
//! running anything.

mod common;

use common::LabHome;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The project's folder.
fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// mdBook as the Makefile installs it (`make mdbook`; `MDBOOK` names it).
fn mdbook() -> PathBuf {
    if let Ok(path) = std::env::var("MDBOOK") {
        return project().join(path);
    }
    let tools = std::env::var("LABS_TOOLS_DIR").map_or(project().join("tools"), PathBuf::from);
    let path = tools.join("bin/mdbook");
    assert!(
        path.is_file(),
        "no mdBook at `{}`: run `make mdbook`",
        path.display()
    );
    path
}

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The workbook built from the committed pages into `dir`.
fn build_site(dir: &Path) {
    let out = Command::new(mdbook())
        .args(["build", "-d"])
        .arg(dir)
        .arg(project().join("book"))
        .output()
        .expect("mdbook runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `labs serve` on a free port for the workspace `workspace`: the process and the URL it printed.
fn serve(home: &LabHome, site: &Path, workspace: &Path) -> (Killed, String) {
    let mut child = home
        .command(&["serve", "--port", "0", "--workspace"])
        .arg(workspace)
        .arg("--site")
        .arg(site)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("labs serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "printed: {line:?}");
    (Killed(child), url)
}

/// A raw HTTP/1.1 request to 127.0.0.1:`port` with exactly the headers given: its status and
/// body.
fn raw(port: u16, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut request = format!("POST {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, body.to_string())
}

/// Whether psql's table `printed` has one row, whose single value is `value`.
fn has_value(printed: &str, value: &str) -> bool {
    let lines: Vec<&str> = printed.lines().collect();
    lines.len() == 4 && lines[2].trim() == value && lines[3] == "(1 row)"
}

#[test]
fn a_student_runs_examples_and_checks_labs_through_the_api() {
    let home = LabHome::new();
    let site = home.path().with_file_name("site");
    build_site(&site);
    let workspace = home.path().with_file_name("workspace");
    home.run(&["init", workspace.to_str().unwrap()])
        .expect_code(0);
    let (_server, url) = serve(&home, &site, &workspace);
    let port: u16 = url["http://127.0.0.1:".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let token = url.split("token=").nth(1).unwrap().to_string();
    let host = format!("127.0.0.1:{port}");

    // Refused without running anything: no token, a wrong one, a foreign Origin, a foreign Host.
    let evil = json!({ "page": "/part-4.html", "block": 0,
                       "sql": "CREATE TABLE evil (x integer)" });
    let refused = [
        vec![("Host", host.as_str())],
        vec![("Host", host.as_str()), ("X-Labs-Token", "wrong")],
        vec![
            ("Host", host.as_str()),
            ("X-Labs-Token", token.as_str()),
            ("Origin", "http://evil.example"),
        ],
        vec![("Host", "evil.example"), ("X-Labs-Token", token.as_str())],
        vec![
            ("Host", host.as_str()),
            ("X-Labs-Token", token.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    ];
    for headers in &refused {
        let (status, body) = raw(port, "/api/run", headers, &evil);
        assert_eq!(status, 403, "{headers:?}: {body}");
    }
    let own = [("Host", host.as_str()), ("X-Labs-Token", token.as_str())];
    let (status, body) = raw(
        port,
        "/api/run",
        &own,
        &json!({ "page": "/part-4.html", "block": 0,
                 "sql": "SELECT count(*) AS evil FROM pg_class WHERE relname = 'evil'" }),
    );
    assert_eq!(status, 200, "{body}");
    let ran: Value = serde_json::from_str(&body).unwrap();
    assert!(has_value(ran["output"].as_str().unwrap(), "0"), "{body}");
    // The reader's role is not the superuser: what needs one fails with 42501.
    let (_, body) = raw(
        port,
        "/api/run",
        &own,
        &json!({ "page": "/part-4.html", "block": 0, "sql": "CREATE ROLE mallory" }),
    );
    assert!(body.contains("42501"), "{body}");

    let call = |path: &str, body: Value| -> Value {
        let (status, body) = raw(port, path, &own, &body);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    // An example edited and run, then the page's sandbox reset: what the run made is gone.
    let ran = call(
        "/api/run",
        json!({ "page": "/part-4.html", "block": 0,
                "sql": "CREATE TABLE mine AS SELECT 40 + 2 AS answer;\nSELECT answer FROM mine;" }),
    );
    let output = ran["output"].as_str().unwrap();
    assert!(
        output.ends_with(" answer \n--------\n     42\n(1 row)"),
        "{ran}"
    );
    call("/api/reset", json!({ "page": "/part-4.html" }));
    let ran = call(
        "/api/run",
        json!({ "page": "/part-4.html", "block": 0,
                "sql": "SELECT count(*) AS mine FROM pg_class WHERE relname = 'mine'" }),
    );
    assert!(has_value(ran["output"].as_str().unwrap(), "0"), "{ran}");
    // An error comes back as psql prints it, with its SQLSTATE.
    let ran = call(
        "/api/run",
        json!({ "page": "/part-4.html", "block": 0, "sql": "SELEC 1" }),
    );
    assert_eq!(ran["codes"], json!(["42601"]), "{ran}");
    assert!(
        ran["output"]
            .as_str()
            .unwrap()
            .contains("LINE 1: SELEC 1\n        ^"),
        "{ran}"
    );

    // Lab 1 from its page: a wrong answer, then the reference solution, each saved into the
    // workspace and checked there.
    let lab = project().join("labs/01_ratings");
    let wrong = std::fs::read_dir(lab.join("wrong"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let verdict = |answer: &Path| -> Value {
        let text = std::fs::read_to_string(answer).unwrap();
        call("/api/answer", json!({ "lab": 1, "text": text }));
        assert_eq!(
            std::fs::read_to_string(workspace.join("answers/lab1.sql")).unwrap(),
            text
        );
        call("/api/check", json!({ "lab": 1 }))
    };
    let bad = verdict(&wrong);
    let text = bad["text"].as_str().unwrap();
    assert!(text.contains("✘") && text.contains("Подсказка"), "{text}");
    assert!(bad["verdict"]["score"].as_u64() < bad["verdict"]["max_score"].as_u64());
    let good = verdict(&lab.join("solution.sql"));
    let text = good["text"].as_str().unwrap();
    assert!(
        text.contains("всё зачтено") && !text.contains("✘"),
        "{text}"
    );
}

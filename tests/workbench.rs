//! `labs serve` as a student uses it: through its API as the pages call it (requests without
//! the token, from a foreign Origin or to a foreign Host refused without running anything; an
//! example edited, run and reset; a lab saved and checked), and in headless Chromium driven
//! through ChromeDriver (the buttons on a part's page and on a lab's page).

mod common;

use common::LabHome;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// `labs serve` on a free port, in a home of its own, for a new workspace (`labs init`), with the
/// workbook built from the committed pages: the home, the workspace, the process and the URL
/// it printed.
fn served() -> (LabHome, PathBuf, Killed, String) {
    let home = LabHome::new();
    let site = home.path().with_file_name("site");
    build_site(&site);
    let workspace = home.path().with_file_name("workspace");
    home.run(&["init", workspace.to_str().unwrap()])
        .expect_code(0);
    let mut child = home
        .command(&["serve", "--http-port", "0", "--workspace"])
        .arg(&workspace)
        .arg("--site")
        .arg(&site)
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
    (home, workspace, Killed(child), url)
}

/// Lab 1's first wrong answer and its reference solution.
fn lab1_answers() -> (PathBuf, PathBuf) {
    let lab = project().join("labs/01_ratings");
    let wrong = std::fs::read_dir(lab.join("wrong"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    (wrong, lab.join("solution.sql"))
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
    let (_home, workspace, _server, url) = served();
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
    let (wrong, solution) = lab1_answers();
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
    let good = verdict(&solution);
    let text = good["text"].as_str().unwrap();
    assert!(
        text.contains("всё зачтено") && !text.contains("✘"),
        "{text}"
    );
}

/// A WebDriver session of headless Chromium.
struct Browser {
    base: String,
    session: String,
    _driver: Killed,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Killed(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver runs: install Debian's chromium-driver (`make browser`)"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < until, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let created: Value = ureq::post(&format!("{base}/session"))
            .send_json(json!({ "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage"]
                }
            }}}))
            .expect("a WebDriver session")
            .into_json()
            .unwrap();
        Browser {
            session: created["value"]["sessionId"].as_str().unwrap().to_string(),
            base,
            _driver: driver,
        }
    }

    fn call(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        match ureq::post(&url).send_json(body) {
            Ok(r) => r.into_json::<Value>().unwrap()["value"].clone(),
            Err(ureq::Error::Status(_, r)) => panic!("WebDriver: {}", r.into_string().unwrap()),
            Err(e) => panic!("WebDriver: {e}"),
        }
    }

    fn open(&self, url: &str) {
        self.call("/url", json!({ "url": url }));
    }

    fn script(&self, script: &str, args: Value) -> Value {
        self.call("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Waits (at most `seconds`) until `script` returns something, and returns it.
    fn wait_for(&self, script: &str, seconds: u64) -> Value {
        let until = Instant::now() + Duration::from_secs(seconds);
        loop {
            let value = self.script(script, json!([]));
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return value;
            }
            assert!(
                Instant::now() < until,
                "waited {seconds} s in vain for: {script}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `css` finds, as a user does.
    fn click(&self, css: &str) {
        let found = self.call("/element", json!({ "using": "css selector", "value": css }));
        let id = found[ELEMENT].as_str().unwrap().to_string();
        // Out from under mdBook's sticky menu bar, as a reader scrolls to a button.
        self.script(
            "arguments[0].scrollIntoView({ block: 'center' }); return true",
            json!([{ ELEMENT: id }]),
        );
        self.call(&format!("/element/{id}/click"), json!({}));
    }

    /// Clicks `button` and returns the text `shown` (an element) gets from the click.
    fn click_for(&self, button: &str, shown: &str, seconds: u64) -> String {
        self.script("window.labsSince = Date.now(); return true", json!([]));
        self.click(button);
        let wait = format!(
            "var o = document.querySelector('{shown}'); \
             return o && Number(o.dataset.done) > window.labsSince ? o.textContent : null"
        );
        self.wait_for(&wait, seconds).as_str().unwrap().to_string()
    }

    /// Types `text` into the element `css` finds, as the editor's new content.
    fn type_into(&self, css: &str, text: &str) {
        self.script(
            &format!(
                "var e = document.querySelector('{css}'); e.focus(); \
                 if ('value' in e) e.value = arguments[0]; else e.textContent = arguments[0]; \
                 return true"
            ),
            json!([text]),
        );
    }
}

#[test]
fn a_student_runs_an_example_and_checks_a_lab_in_chromium() {
    let (_home, workspace, _server, url) = served();
    let browser = Browser::start();

    // A part's first runnable example, edited and run; then its sandbox reset.
    browser.open(&url.replace("index.html", "part-4.html"));
    browser.wait_for("return document.querySelector('button.labs-run')", 30);
    browser.type_into(
        "code.labs-editable",
        "CREATE TABLE mine AS SELECT 40 + 2 AS answer;\nSELECT answer FROM mine;",
    );
    let output = browser.click_for("button.labs-run", "pre.labs-output", 60);
    assert!(output.ends_with("     42\n(1 row)"), "{output}");
    let output = browser.click_for("button.labs-reset", "pre.labs-output", 60);
    assert!(output.contains("заново"), "{output}");
    browser.type_into(
        "code.labs-editable",
        "SELECT count(*) AS mine FROM pg_class WHERE relname = 'mine';",
    );
    let output = browser.click_for("button.labs-run", "pre.labs-output", 60);
    assert!(has_value(&output, "0"), "{output}");
    // An example the reader cannot run says why.
    let why = browser.script(
        "var n = document.querySelector('p.labs-norun'); return n && n.textContent",
        json!([]),
    );
    assert!(why.as_str().unwrap().contains("не запускается"), "{why}");

    // Lab 1 from its page: a wrong answer, then the reference solution.
    let (wrong, solution) = lab1_answers();
    browser.open(&url.replace("index.html", "lab-1.html"));
    browser.wait_for(
        "var a = document.querySelector('textarea.labs-answer'); return a && a.value",
        30,
    );
    let verdict = |answer: &Path| -> String {
        let text = std::fs::read_to_string(answer).unwrap();
        browser.type_into("textarea.labs-answer", &text);
        let shown = browser.click_for("button.labs-check", "pre.labs-verdict", 300);
        assert_eq!(
            std::fs::read_to_string(workspace.join("answers/lab1.sql")).unwrap(),
            text
        );
        shown
    };
    let bad = verdict(&wrong);
    assert!(bad.contains("✘") && bad.contains("Подсказка"), "{bad}");
    assert!(!bad.contains("всё зачтено"), "{bad}");
    let good = verdict(&solution);
    assert!(
        good.contains("всё зачтено") && !good.contains("✘"),
        "{good}"
    );
}

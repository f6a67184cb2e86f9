//! `labs serve`: the built workbook on 127.0.0.1 with a small API beside it, through which its
//! pages run their examples in the reader's own sandboxes and check the labs' answers of the
//! workspace the server was started in. `LABS_SERVE_TRACE=1` prints every request on stderr.

pub mod bench;
pub mod guard;

use crate::book::reader::{split, PageSteps, Reader};
use crate::check::{self, Snapshots};
use crate::lab::Lab;
use crate::report;
use crate::sandbox::Sandboxes;
use crate::server::{Server, SlotLock};
use anyhow::{bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A page's sandbox: the reader's console in it, and how many of the page's steps it has run.
#[derive(Default)]
struct PageSandbox {
    reader: Option<Reader>,
    done: usize,
}

/// The workbench: the lab server, the reader's sandboxes (one a page), the built book and the
/// workspace whose answers the lab pages edit and check.
pub struct Workbench {
    token: String,
    server: Server,
    workbook: Lab,
    site: PathBuf,
    workspace: PathBuf,
    labs: Vec<Lab>,
    pages: Mutex<BTreeMap<String, Arc<Mutex<PageSandbox>>>>,
    /// One lab check at a time: lab 3 holds every worker slot of the server.
    checking: Mutex<()>,
    /// Declared last: dropped after every reader is closed, it waits for their drops.
    sandboxes: Sandboxes,
}

/// A workbench being served: its port and token; dropping it stops the server.
pub struct Served {
    pub port: u16,
    pub token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Held so that the workbench is dropped here, after the runtime, and not on one of its
    /// threads: dropping it closes the readers' sandboxes through the blocking client, which
    /// must not run inside a runtime.
    _bench: Arc<Workbench>,
}

impl Served {
    /// The address a reader opens: the book's first page with the token.
    pub fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/index.html?token={}",
            self.port, self.token
        )
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Served {
    /// Stops taking requests and waits for those under way.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP response.
type Response = axum::response::Response;

/// A handler's answer: its status and JSON body.
type Reply = (u16, Value);

/// Locks a mutex, whatever a panic elsewhere left in it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Workbench {
    /// The workbench of the book built in `site` (mdBook's output), whose workbook sandbox is
    /// described in `book`, for the answers of `workspace`.
    pub fn new(
        server: &Server,
        book: &Path,
        site: &Path,
        workspace: &Path,
        labs: Vec<Lab>,
    ) -> Result<Workbench> {
        if !site.join("index.html").is_file() {
            bail!(
                "there is no built workbook in `{}`: build it with `make book`",
                site.display()
            );
        }
        Ok(Workbench {
            token: Alphanumeric.sample_string(&mut rand::thread_rng(), 32),
            server: server.clone(),
            workbook: crate::book::reader::workbook_lab(book)?,
            site: site.to_path_buf(),
            workspace: workspace.to_path_buf(),
            labs,
            pages: Mutex::default(),
            checking: Mutex::default(),
            sandboxes: Sandboxes::new(server),
        })
    }

    /// Serves on 127.0.0.1:`port` (0: a free port), until the returned handle is dropped: axum
    /// on a small runtime of its own; the handlers, which wait on the server, run on its
    /// blocking threads.
    pub fn start(self, port: u16) -> Result<Served> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_io()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        let port = listener.local_addr()?.port();
        let token = self.token.clone();
        let bench = Arc::new(self);
        let kept = Arc::clone(&bench);
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let bench = Arc::clone(&bench);
            async move { bench.answer(request, port).await }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(Served {
            port,
            token,
            stop: Some(stop),
            thread: Some(thread),
            _bench: kept,
        })
    }

    /// Answers one request: refused, a file of the book, or an API call.
    async fn answer(self: Arc<Self>, request: axum::extract::Request, port: u16) -> Response {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_string();
        if std::env::var_os("LABS_SERVE_TRACE").is_some() {
            eprintln!(
                "labs serve: {} {} {:?}",
                parts.method, parts.uri, parts.headers
            );
        }
        let api = path.starts_with("/api/");
        if let Some((status, why)) = guard::refusal(&parts.headers, port, &self.token, api) {
            return json_response(status, &json!({ "error": why }));
        }
        if !api {
            return tokio::task::spawn_blocking(move || self.file(&path))
                .await
                .unwrap_or_else(|_| json_response(500, &json!({ "error": "the file failed" })));
        }
        let Ok(body) = axum::body::to_bytes(body, guard::MAX_BODY).await else {
            return json_response(413, &json!({ "error": "the body could not be read whole" }));
        };
        let method = parts.method.as_str().to_string();
        tokio::task::spawn_blocking(move || {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, value) = self
                .call(&method, &path, &body)
                .unwrap_or_else(|err| (500, json!({ "error": format!("{err:#}") })));
            json_response(status, &value)
        })
        .await
        .unwrap_or_else(|_| json_response(500, &json!({ "error": "the call failed" })))
    }

    /// Routes an API call.
    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Reply> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
        let number = |key: &str| body.get(key).and_then(Value::as_u64).unwrap_or(u64::MAX);
        match (method, path) {
            ("GET" | "POST", "/api/ping") => Ok((200, json!({ "ok": true }))),
            ("POST", "/api/run") => self.run(text("page"), number("block"), text("sql")),
            ("POST", "/api/reset") => self.reset(text("page")),
            ("POST", "/api/answer") => self.answer_file(number("lab"), body.get("text")),
            ("POST", "/api/check") => self.check(number("lab")),
            _ => Ok((404, json!({ "error": format!("no {method} {path}") }))),
        }
    }

    /// The sandbox of page `page` (a page of the book, by its path in the site).
    fn page(&self, page: &str) -> Result<(Arc<Mutex<PageSandbox>>, PageSteps), Reply> {
        let file = self.site_file(page).ok_or_else(|| not_found(page))?;
        let steps = fs::read_to_string(&file)
            .ok()
            .and_then(|html| PageSteps::from_page(&html).ok().flatten())
            .ok_or_else(|| not_found(page))?;
        let sandbox = Arc::clone(lock(&self.pages).entry(page.to_string()).or_default());
        Ok((sandbox, steps))
    }

    /// Runs the reader's text of example `block` of `page` in the page's sandbox, after the
    /// page's steps before it that the sandbox has not run yet.
    fn run(&self, page: &str, block: u64, sql: &str) -> Result<Reply> {
        let (sandbox, steps) = match self.page(page) {
            Ok(found) => found,
            Err(reply) => return Ok(reply),
        };
        let Some(block) = steps.blocks.get(block as usize) else {
            return Ok((
                404,
                json!({ "error": format!("no example {block} on {page}") }),
            ));
        };
        if !block.runnable {
            return Ok((409, json!({ "error": block.why })));
        }
        let (statements, gset) = split(sql);
        if statements.is_empty() {
            return Ok((400, json!({ "error": "пустой запрос" })));
        }
        let _slots = SlotLock::take(&self.server, false)?;
        let mut sandbox = lock(&sandbox);
        let sandbox = &mut *sandbox;
        if sandbox.reader.is_none() {
            sandbox.reader = Some(Reader::open(&self.sandboxes, &self.workbook)?);
            sandbox.done = 0;
        }
        let reader = sandbox.reader.as_mut().expect("just opened");
        let replayed = block.first.saturating_sub(sandbox.done);
        if replayed > 0 {
            reader.replay(&steps.steps[sandbox.done..block.first]);
        }
        let ran = reader.run_block(&statements, gset);
        sandbox.done = sandbox.done.max(block.end);
        Ok((
            200,
            json!({ "output": ran.printed, "codes": ran.codes, "replayed": replayed }),
        ))
    }

    /// Gives page `page` a fresh sandbox, ready for the next run.
    fn reset(&self, page: &str) -> Result<Reply> {
        let sandbox = match self.page(page) {
            Ok((sandbox, _)) => sandbox,
            Err(reply) => return Ok(reply),
        };
        let fresh = Reader::open(&self.sandboxes, &self.workbook)?;
        let old = {
            let mut sandbox = lock(&sandbox);
            sandbox.done = 0;
            sandbox.reader.replace(fresh)
        };
        if let Some(old) = old {
            old.close(&self.sandboxes);
        }
        Ok((200, json!({ "ok": true })))
    }

    /// Lab `number` of the workspace's labs.
    fn lab(&self, number: u64) -> Option<&Lab> {
        self.labs.iter().find(|l| u64::from(l.number) == number)
    }

    /// The path of lab `number`'s answer in the workspace, as `labs init` made it.
    fn answer_path(lab: &Lab) -> PathBuf {
        PathBuf::from("answers").join(format!("lab{}.sql", lab.number))
    }

    /// Reads (no `text`) or saves (a `text`) the answer of lab `number`.
    fn answer_file(&self, number: u64, text: Option<&Value>) -> Result<Reply> {
        let Some(lab) = self.lab(number) else {
            return Ok((404, json!({ "error": format!("no lab {number}") })));
        };
        let shown = Workbench::answer_path(lab);
        let path = self.workspace.join(&shown);
        match text.map(|t| t.as_str()) {
            None => {
                let text = check::answer::read(&path).unwrap_or_default();
                Ok((200, json!({ "path": shown, "text": text })))
            }
            Some(Some(text)) if text.len() as u64 <= check::answer::MAX_BYTES => {
                fs::create_dir_all(path.parent().expect("answers/"))?;
                fs::write(&path, text)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
                Ok((200, json!({ "path": shown, "saved": true })))
            }
            Some(_) => Ok((
                413,
                json!({ "error": format!("ответ длиннее {} байт", check::answer::MAX_BYTES) }),
            )),
        }
    }

    /// Checks lab `number` on the workspace's answer: the verdict as the terminal prints it,
    /// and as data.
    fn check(&self, number: u64) -> Result<Reply> {
        let Some(lab) = self.lab(number) else {
            return Ok((404, json!({ "error": format!("no lab {number}") })));
        };
        let _one = lock(&self.checking);
        if lab.exclusive {
            // The reader's own workers would hold slots the lab counts on.
            for sandbox in lock(&self.pages).values() {
                if let Some(reader) = &lock(sandbox).reader {
                    reader.end_workers()?;
                }
            }
        }
        let path = self.workspace.join(Workbench::answer_path(lab));
        let verdict = check::run(&self.sandboxes, lab, &path, Snapshots::Compare)?;
        Ok((
            200,
            json!({ "text": report::text(&verdict), "verdict": verdict }),
        ))
    }

    /// The file of the site at URL path `path`, when it is one (no way out of the site).
    fn site_file(&self, path: &str) -> Option<PathBuf> {
        let relative = path.trim_start_matches('/');
        let relative = if relative.is_empty() || relative.ends_with('/') {
            format!("{relative}index.html")
        } else {
            relative.to_string()
        };
        let safe = relative
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != "." && !part.contains('\\'));
        let file = self.site.join(&relative);
        (safe && file.is_file()).then_some(file)
    }

    /// A file of the book, with its type.
    fn file(&self, path: &str) -> Response {
        let Some(file) = self.site_file(path) else {
            return response(404, "text/plain", b"not found".to_vec());
        };
        let kind = match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "html" => "text/html; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "json" => "application/json",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "woff" => "font/woff",
            "woff2" => "font/woff2",
            "ttf" => "font/ttf",
            _ => "application/octet-stream",
        };
        response(200, kind, fs::read(&file).unwrap_or_default())
    }
}

fn not_found(page: &str) -> Reply {
    (
        404,
        json!({ "error": format!("no page `{page}` with examples") }),
    )
}

/// A response of `status` with a body of type `kind`.
fn response(status: u16, kind: &str, body: Vec<u8>) -> Response {
    axum::response::Response::builder()
        .status(status)
        .header("Content-Type", kind)
        .header("Cache-Control", "no-store")
        .body(axum::body::Body::from(body))
        .expect("a valid response")
}

fn json_response(status: u16, value: &Value) -> Response {
    response(
        status,
        "application/json; charset=utf-8",
        value.to_string().into_bytes(),
    )
}

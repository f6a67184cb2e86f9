//! pgbg-labs: the library behind the `labs` runner, in layers that import only downward (see
//! ARCHITECTURE.md): the models (`lab`, `verdict`, `table`), `server`, `sandbox`, `check`,
//! `report`, the jobs people run (`grade`, `book`, `bench`, `dev`, `workspace`, `watch`), and on
//! top the workbench that serves the book (`serve`).

pub mod bench;
pub mod book;
pub mod browser;
pub mod check;
pub mod dev;
pub mod grade;
pub mod lab;
pub mod report;
pub mod sandbox;
pub mod serve;
pub mod server;
pub mod table;
pub mod verdict;
pub mod watch;
pub mod workspace;

//! The insta filters every report snapshot shares: what changes between runs or machines
//! (timings, dates, pids, ports) is hidden; each test adds the paths it knows of.

/// Settings that hide timings in milliseconds and seconds, dates, pids and ports.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d+ мс", "[N] мс");
    settings.add_filter(r"\d+\.\d+ с\b", "[T] с");
    settings.add_filter(r#"time="[\d.]+""#, r#"time="[T]""#);
    settings.add_filter(r#""(elapsed_ms|student_ms)": \d+"#, r#""$1": [N]"#);
    settings.add_filter(r#""graded_at": \d+"#, r#""graded_at": [DATE]"#);
    settings.add_filter(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
        "[DATE]",
    );
    settings.add_filter(r"pid \d+", "pid [PID]");
    settings.add_filter(r"процесса \d+", "процесса [PID]");
    settings.add_filter(r"(port[= ]|localhost:|127\.0\.0\.1:)\d+", "$1[PORT]");
    settings
}

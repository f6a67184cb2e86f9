//! Verdicts as JUnit XML, for CI dashboards and LMS plug-ins: a test suite a student's lab, a test
//! case a check and dataset, a failure with the check's whole output (and why the file did not
//! run, for a check that did not because of it: a dashboard shows each failure alone).

use super::{check_output, load_error_text};
use crate::verdict::{Status, Verdict};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The verdicts of one student as JUnit test suites (one suite a lab, one test case a check and
/// dataset): every check that did not pass is a failure whose type is how it ended (Failed,
/// Error, Timeout), whose message is the check's and whose text is all it said, and the load
/// error that stopped it.
pub fn junit(student: &str, verdicts: &[&Verdict]) -> Vec<TestSuite> {
    verdicts
        .iter()
        .map(|verdict| {
            let mut suite = TestSuite::new(format!("{student}/lab{}", verdict.lab));
            suite.set_time(Duration::from_millis(verdict.elapsed_ms));
            suite.add_test_cases(verdict.results.iter().map(|r| {
                let status = if r.status == Status::Passed {
                    TestCaseStatus::success()
                } else {
                    let mut output = check_output(r);
                    if let Some(e) = verdict
                        .load_error
                        .as_ref()
                        .filter(|_| verdict.not_loaded(r))
                    {
                        output = format!("{output}\n{}", load_error_text(verdict, e));
                    }
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_type(format!("{:?}", r.status))
                        .set_message(&r.message)
                        .set_description(output);
                    status
                };
                let mut case = TestCase::new(format!("{}@{}", r.id, r.dataset), status);
                case.set_classname(format!("{student}.lab{}", verdict.lab))
                    .set_time(Duration::from_millis(r.elapsed_ms));
                case
            }));
            suite
        })
        .collect()
}

/// Test suites as one JUnit XML document.
pub fn junit_document(suites: impl IntoIterator<Item = TestSuite>) -> String {
    let mut report = Report::new("labs grade");
    report.add_test_suites(suites);
    report
        .to_string()
        .expect("a JUnit report serialises into a string")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::CheckResult;

    fn result(id: &str, status: Status, message: &str) -> CheckResult {
        CheckResult {
            id: id.into(),
            title: id.into(),
            dataset: "a".into(),
            status,
            points: u32::from(status == Status::Passed),
            max_points: 1,
            message: message.into(),
            detail: Some("ошибка: <&> \"'\u{1}".into()),
            diff: None,
            hint: None,
            elapsed_ms: 1500,
            student_ms: 0,
        }
    }

    #[test]
    fn the_document_reads_back_with_what_each_check_said() {
        let verdict = Verdict {
            lab: 3,
            title: "t".into(),
            answer: "lab3.sql".into(),
            problem: None,
            load_error: None,
            results: vec![
                result("ok", Status::Passed, "да"),
                result("slow", Status::Timeout, "a < b & \"c\""),
            ],
            score: 1,
            max_score: 2,
            elapsed_ms: 3000,
            student_ms: 0,
        };
        let xml = junit_document(junit("ann", &[&verdict]));
        let report = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!((report.tests, report.failures), (2, 1));
        let suite = &report.test_suites[0];
        assert_eq!(suite.name.as_str(), "ann/lab3");
        assert_eq!(suite.time, Some(Duration::from_secs(3)));
        let case = &suite.test_cases[1];
        assert_eq!(case.name.as_str(), "slow@a");
        assert_eq!(case.classname.as_ref().unwrap().as_str(), "ann.lab3");
        let TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            ..
        } = &case.status
        else {
            panic!("{xml}");
        };
        assert_eq!(*kind, NonSuccessKind::Failure);
        assert_eq!(ty.as_ref().unwrap().as_str(), "Timeout");
        assert_eq!(message.as_ref().unwrap().as_str(), "a < b & \"c\"");
        assert_eq!(
            description.as_ref().unwrap().as_str(),
            "превышено время: a < b & \"c\"\nПодробно: ошибка: <&> \"'"
        );
    }
}

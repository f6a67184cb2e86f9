//! The lab server's language: a student's error comes back in Russian with its SQLSTATE where the
//! server has the ru_RU.UTF-8 locale (the image always, the native backend when this machine
//! has it), and in English with its SQLSTATE, saying how to get Russian, where it has not.

mod common;

use common::{server_speaks_russian, LabHome};

#[test]
fn a_students_error_comes_in_the_servers_language_with_its_sqlstate() {
    let home = LabHome::new();
    let answer = home.path().with_file_name("broken.sql");
    std::fs::write(&answer, "SELECT 1;\nSELEC 2;\n").unwrap();
    let run = home.run(&["check", "3", "--answer", answer.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.all());
    let said = "Файл не выполнился: ошибка 42601: ";
    let advice = "no ru_RU.UTF-8 locale";
    if server_speaks_russian() {
        assert!(
            run.stdout.contains(&format!(
                "{said}ошибка синтаксиса (примерное положение: \"SELEC\")\n --> строка 2, столбец 1"
            )),
            "{}",
            run.all()
        );
        assert!(!run.stderr.contains(advice), "{}", run.all());
        let shown = home.psql("SHOW lc_messages");
        assert!(shown.to_lowercase().starts_with("ru_ru.utf"), "{shown}");
        return;
    }
    eprintln!(
        "skipped the Russian half of this test: this machine has no ru_RU.UTF-8 locale (`make \
         setup` generates it); checked the English messages and the advice instead"
    );
    assert!(
        run.stdout.contains(&format!(
            "{said}syntax error at or near \"SELEC\"\n --> строка 2, столбец 1"
        )),
        "{}",
        run.all()
    );
    assert_eq!(
        run.stderr.matches(advice).count(),
        1,
        "the advice, once:\n{}",
        run.all()
    );
}

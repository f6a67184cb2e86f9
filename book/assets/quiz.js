// The workbook's quizzes (made by src/book/quiz.rs): each question is answered once, the chosen
// and the right option are explained, and the score is kept in this browser's localStorage.
(function () {
  'use strict';

  function storageKey(quiz) {
    return 'pgbg-labs-quiz:' + quiz.dataset.quiz;
  }

  function load(quiz) {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey(quiz))) || {};
    } catch (e) {
      return {};
    }
  }

  function save(quiz, answers) {
    try {
      window.localStorage.setItem(storageKey(quiz), JSON.stringify(answers));
    } catch (e) {
      // No storage (a private window): the score lasts as long as the page.
    }
  }

  // Marks a question as answered with option `chosen`: the right one green, a wrong choice red,
  // the explanations of both shown.
  function show(question, chosen) {
    var right = Number(question.dataset.right);
    question.dataset.chosen = String(chosen);
    question.classList.add('quiz-answered');
    question.querySelectorAll('.quiz-option').forEach(function (button) {
      var i = Number(button.dataset.index);
      button.disabled = true;
      button.classList.toggle('quiz-right', i === right);
      button.classList.toggle('quiz-wrong', i === chosen && i !== right);
      button.setAttribute('aria-pressed', i === chosen ? 'true' : 'false');
    });
    question.querySelectorAll('.quiz-why').forEach(function (why) {
      var i = Number(why.dataset.index);
      why.hidden = !(i === chosen || i === right);
    });
  }

  function clear(question) {
    delete question.dataset.chosen;
    question.classList.remove('quiz-answered');
    question.querySelectorAll('.quiz-option').forEach(function (button) {
      button.disabled = false;
      button.classList.remove('quiz-right', 'quiz-wrong');
      button.removeAttribute('aria-pressed');
    });
    question.querySelectorAll('.quiz-why').forEach(function (why) {
      why.hidden = true;
    });
  }

  function score(quiz) {
    var points = 0;
    quiz.querySelectorAll('.quiz-question').forEach(function (question) {
      if ('chosen' in question.dataset &&
          Number(question.dataset.chosen) === Number(question.dataset.right)) {
        points += 1;
      }
    });
    quiz.querySelector('.quiz-points').textContent = String(points);
  }

  function start(quiz) {
    var answers = load(quiz);
    var questions = quiz.querySelectorAll('.quiz-question');
    questions.forEach(function (question, n) {
      if (typeof answers[n] === 'number') {
        show(question, answers[n]);
      }
      question.querySelectorAll('.quiz-option').forEach(function (button) {
        button.addEventListener('click', function () {
          if ('chosen' in question.dataset) {
            return;
          }
          answers[n] = Number(button.dataset.index);
          show(question, answers[n]);
          save(quiz, answers);
          score(quiz);
        });
      });
    });
    quiz.querySelector('.quiz-reset').addEventListener('click', function () {
      answers = {};
      save(quiz, answers);
      questions.forEach(clear);
      score(quiz);
    });
    score(quiz);
    quiz.classList.add('quiz-ready');
  }

  document.querySelectorAll('.quiz').forEach(start);
})();

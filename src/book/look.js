// Injected by `labs book look` into a copy of a part's page, after the page's own scripts: it
// measures every diagram, answers every quiz as a student would (the first question wrongly,
// the others rightly, then a second click that must change nothing) and leaves what it saw as
// JSON in a pre element with the id labs-look, which the runner reads from the DOM.
(function () {
  'use strict';
  var seen = { diagrams: [], quizzes: [] };
  document.querySelectorAll('figure.diagram').forEach(function (figure) {
    var svg = figure.querySelector('svg');
    var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    seen.diagrams.push({
      shapes: svg ? svg.querySelectorAll('rect, line, path, circle').length : 0,
      texts: svg ? svg.querySelectorAll('text').length : 0,
      width: box.width,
      height: box.height,
      caption: (figure.querySelector('figcaption') || {}).textContent || ''
    });
  });
  document.querySelectorAll('.quiz').forEach(function (quiz) {
    var points = function () {
      return Number(quiz.querySelector('.quiz-points').textContent);
    };
    var result = { name: quiz.dataset.quiz, ready: quiz.classList.contains('quiz-ready'), steps: [] };
    quiz.querySelector('.quiz-reset').click();
    var questions = quiz.querySelectorAll('.quiz-question');
    questions.forEach(function (question, n) {
      var right = Number(question.dataset.right);
      var count = question.querySelectorAll('.quiz-option').length;
      var pick = n === 0 ? (right + 1) % count : right;
      question.querySelector('.quiz-option[data-index="' + pick + '"]').click();
      var why = question.querySelector('.quiz-why[data-index="' + pick + '"]');
      var rightWhy = question.querySelector('.quiz-why[data-index="' + right + '"]');
      result.steps.push({
        right: pick === right,
        points: points(),
        explained: !!why && !why.hidden && !!rightWhy && !rightWhy.hidden
      });
    });
    var first = questions[0];
    var again = first.querySelector('.quiz-option[data-index="' + first.dataset.right + '"]');
    again.click();
    result.afterSecondClick = points();
    var stored = window.localStorage.getItem('pgbg-labs-quiz:' + quiz.dataset.quiz);
    result.stored = stored ? Object.keys(JSON.parse(stored)).length : 0;
    result.total = Number(quiz.querySelector('.quiz-total').textContent);
    seen.quizzes.push(result);
  });
  var out = document.createElement('pre');
  out.id = 'labs-look';
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
})();

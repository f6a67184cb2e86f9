// The workbench (`labs serve`): examples run in the reader's sandbox and labs checked from the
// page. Without the server's API (mdbook serve, files opened from disk) it adds nothing.
(function () {
  "use strict";
  var KEY = "labs-token";
  var query = new URLSearchParams(location.search);
  if (query.get("token")) {
    sessionStorage.setItem(KEY, query.get("token"));
    query.delete("token");
    var rest = query.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  var token = sessionStorage.getItem(KEY);
  if (!token || location.protocol.indexOf("http") !== 0) return;
  var page = location.pathname;

  function api(path, body) {
    return fetch("/api/" + path, {
      method: "POST",
      headers: { "X-Labs-Token": token, "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || "HTTP " + r.status);
        return j;
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function next(node, test) {
    for (var n = node.nextElementSibling; n; n = n.nextElementSibling) if (test(n)) return n;
    return null;
  }

  function example(marker) {
    var pre = next(marker, function (n) { return n.tagName === "PRE"; });
    if (!pre) return;
    var code = pre.querySelector("code");
    if (marker.dataset.why) {
      var note = el("p", "labs-norun",
        "Этот пример не запускается со страницы: " + marker.dataset.why +
        ". Ниже — его вывод, записанный при сборке тетради.");
      pre.parentNode.insertBefore(note, pre.nextSibling);
      return;
    }
    var original = code.innerText;
    code.contentEditable = "true";
    code.spellcheck = false;
    code.classList.add("labs-editable");
    var bar = el("div", "labs-bar");
    var run = el("button", "labs-run", "Выполнить");
    var reset = el("button", "labs-reset", "Сбросить");
    var out = el("pre", "labs-output");
    out.hidden = true;
    bar.appendChild(run);
    bar.appendChild(reset);
    pre.parentNode.insertBefore(bar, pre.nextSibling);
    bar.parentNode.insertBefore(out, bar.nextSibling);
    function show(text, failed) {
      out.hidden = false;
      out.textContent = text;
      out.classList.toggle("labs-failed", !!failed);
    }
    run.onclick = function () {
      run.disabled = true;
      show("Выполняется…");
      api("run", { page: page, block: Number(marker.dataset.block), sql: code.innerText })
        .then(function (r) {
          var codes = r.codes.filter(function (c) { return c; });
          var text = r.output || "(запрос ничего не вывел)";
          if (codes.length) text += "\nКод ошибки (SQLSTATE): " + codes.join(", ");
          show(text, codes.length > 0);
          out.dataset.done = String(Date.now());
        })
        .catch(function (e) { show("Не удалось выполнить: " + e.message, true); })
        .then(function () { run.disabled = false; });
    };
    reset.onclick = function () {
      reset.disabled = true;
      api("reset", { page: page })
        .then(function () {
          code.textContent = original;
          show("Песочница этой страницы создана заново: примеры выше ещё не выполнялись в ней.");
          out.dataset.done = String(Date.now());
        })
        .catch(function (e) { show("Не удалось сбросить: " + e.message, true); })
        .then(function () { reset.disabled = false; });
    };
  }

  function lab(marker) {
    var n = Number(marker.dataset.lab);
    var box = el("div", "labs-editor");
    var title = el("p", "labs-file");
    var area = el("textarea", "labs-answer");
    area.spellcheck = false;
    area.rows = 24;
    var bar = el("div", "labs-bar");
    var save = el("button", "labs-save", "Сохранить");
    var check = el("button", "labs-check", "Проверить");
    var status = el("span", "labs-status");
    var verdict = el("pre", "labs-verdict");
    verdict.hidden = true;
    bar.appendChild(save);
    bar.appendChild(check);
    bar.appendChild(status);
    box.appendChild(title);
    box.appendChild(area);
    box.appendChild(bar);
    box.appendChild(verdict);
    marker.appendChild(box);
    api("answer", { lab: n }).then(function (r) {
      title.textContent = "Файл " + r.path + " вашей рабочей папки:";
      area.value = r.text;
    });
    function store() {
      return api("answer", { lab: n, text: area.value }).then(function (r) {
        status.textContent = "Сохранено в " + r.path + ".";
      });
    }
    save.onclick = function () {
      store().catch(function (e) { status.textContent = "Не сохранено: " + e.message; });
    };
    check.onclick = function () {
      check.disabled = true;
      status.textContent = "Проверяется…";
      store()
        .then(function () { return api("check", { lab: n }); })
        .then(function (r) {
          verdict.hidden = false;
          verdict.textContent = r.text;
          var v = r.verdict;
          status.textContent = v.score + " из " + v.max_score + " баллов.";
          verdict.classList.toggle("labs-failed", v.score < v.max_score);
          verdict.dataset.done = String(Date.now());
        })
        .catch(function (e) { status.textContent = "Не проверено: " + e.message; })
        .then(function () { check.disabled = false; });
    };
  }

  function start() {
    api("ping").then(function () {
      document.documentElement.classList.add("labs-served");
      document.querySelectorAll(".labs-example").forEach(example);
      document.querySelectorAll(".labs-lab").forEach(lab);
    }).catch(function () { /* the static book: nothing to add */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

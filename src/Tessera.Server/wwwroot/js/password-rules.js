// Shows the password policy's rules as met or not while the user types; the server still decides.
(function () {
  var input = document.getElementById('newPassword');
  var confirm = document.getElementById('confirmPassword');
  if (!input) { return; }
  var d = input.dataset;
  var checks = {
    min: function (v) { return v.length >= Number(d.min); },
    max: function (v) { return v.length > 0 && v.length <= Number(d.max); },
    upper: function (v) { return /\p{Lu}/u.test(v); },
    lower: function (v) { return /\p{Ll}/u.test(v); },
    digit: function (v) { return /\p{Nd}/u.test(v); },
    symbol: function (v) { return /[^\p{L}\p{Nd}]/u.test(v); },
    match: function (v) { return v.length > 0 && confirm && v === confirm.value; }
  };
  function update() {
    document.querySelectorAll('#password-rules [data-rule]').forEach(function (li) {
      var ok = checks[li.dataset.rule](input.value);
      li.classList.toggle('met', ok);
      li.setAttribute('aria-label', li.textContent.trim() + (ok ? ': met' : ': not met'));
    });
  }
  input.addEventListener('input', update);
  if (confirm) { confirm.addEventListener('input', update); }
  update();
})();

// Shows the password policy's rules as met or not while the user types; the server still decides. A rule that only
// the server can judge (a commonly used password, how hard it is to guess) is marked data-later and says so: it
// stays neutral here rather than pretend to a verdict.
(function () {
  var input = document.getElementById('newPassword');
  var confirm = document.getElementById('confirmPassword');
  if (!input) { return; }
  var d = input.dataset;
  var personalMin = Number(d.personalMin || 3);
  function contains(password, part) {
    return !!part && part.length >= personalMin && password.toLowerCase().indexOf(part.toLowerCase()) >= 0;
  }
  var checks = {
    min: function (v) { return v.length >= Number(d.min); },
    max: function (v) { return v.length > 0 && v.length <= Number(d.max); },
    upper: function (v) { return /\p{Lu}/u.test(v); },
    lower: function (v) { return /\p{Ll}/u.test(v); },
    digit: function (v) { return /\p{Nd}/u.test(v); },
    symbol: function (v) { return /[^\p{L}\p{Nd}]/u.test(v); },
    // As the server judges it: neither the username nor the email's local part (3 characters or more), ignoring case.
    personal: function (v) { return v.length > 0 && !contains(v, d.username) && !contains(v, d.emailName); },
    match: function (v) { return v.length > 0 && confirm && v === confirm.value; }
  };
  function update() {
    var value = input.value.normalize ? input.value.normalize('NFC') : input.value;
    document.querySelectorAll('#password-rules [data-rule]').forEach(function (li) {
      var check = checks[li.dataset.rule];
      var text = li.textContent.replace(/\s+/g, ' ').trim();
      if (!check) {
        li.setAttribute('aria-label', text);
        return;
      }
      var ok = check(value);
      li.classList.toggle('met', ok);
      li.setAttribute('aria-label', text + ': ' + (ok ? d.met : d.notMet));
    });
  }
  input.addEventListener('input', update);
  if (confirm) { confirm.addEventListener('input', update); }
  update();
})();

// The "Add user" form: for API users the System role is on and locked and the optional initial secret
// field shows; for BackOffice users neither the System role nor that field is offered, and only they choose
// between a password (by invitation) and single sign-on.
// Without this script both show and the server decides.
(function () {
  var form = document.getElementById("new-user");
  if (!form) { return; }
  function update() {
    var checked = form.querySelector("input[name=Type]:checked");
    var api = checked && checked.value === "api";
    form.querySelectorAll("[data-api-only]").forEach(function (el) { el.hidden = !api; });
    // API users have neither an invitation nor single sign-on: the credentials choice is the BackOffice user's.
    form.querySelectorAll("[data-backoffice-only]").forEach(function (el) { el.hidden = api; });
    form.querySelectorAll("label[data-system=true]").forEach(function (label) {
      var box = label.querySelector("input");
      (label.closest(".toggle") || label).hidden = !api;
      box.checked = api;
      box.disabled = api; // a locked toggle; the server adds System to every API user anyway
    });
    var sso = form.querySelector("option[value=sso]");
    if (sso) { sso.disabled = api; if (api && sso.selected) { form.querySelector("option[value=password]").selected = true; } }
  }
  form.querySelectorAll("input[name=Type]").forEach(function (radio) { radio.addEventListener("change", update); });
  update();
}());

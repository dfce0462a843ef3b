// The Credentials card of an API user's page. Without this script every field shows, the secret can be copied by
// hand, and the server decides all the same.
(function () {
  var card = document.getElementById("credentials-card");
  if (!card) { return; }

  // The public-key box shows only for the public-key kind.
  var form = document.getElementById("credential-form");
  if (form) {
    var update = function () {
      var checked = form.querySelector("input[name=CredentialType]:checked");
      var key = checked && checked.value === "public_key";
      form.querySelectorAll("[data-key-only]").forEach(function (el) { el.hidden = !key; });
    };
    form.querySelectorAll("input[name=CredentialType]").forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  // A refused form: the first field in error takes the focus, so that its message is read out with it.
  var invalid = card.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }

  var secret = document.getElementById("new-secret-value");
  if (!secret) { return; }

  // The page is the answer to the POST that made the secret: a reload must not send the form again (a second
  // credential, or a refusal of the taken name), so the history entry becomes the page's plain address.
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  if (!invalid) { secret.focus(); secret.select(); }

  var button = document.getElementById("copy-secret");
  var status = document.getElementById("copy-status");
  if (!button || !navigator.clipboard || !window.isSecureContext) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(secret.value).then(function () {
      status.textContent = "Copied. Paste it into the client's configuration now.";
    }, function () {
      secret.focus();
      secret.select();
      status.textContent = "Could not copy: the secret is selected, copy it with Ctrl+C (⌘C).";
    });
  });
}());

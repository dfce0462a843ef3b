// The webhook pages. The answer that shows a new secret is the answer to the POST that made it: a reload must
// not send that form again (a second subscription, or yet another secret), so the history entry becomes the
// page's plain address. Without this script the secret still shows once, and a reload asks before resending.
(function () {
  var secret = document.getElementById("new-secret-value");
  if (!secret) { return; }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  secret.focus();
  secret.select();
})();

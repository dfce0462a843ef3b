// After a failed submit the page comes back with an error summary (Shared/_FormErrors, or a page's own element
// marked data-error-summary): move focus there, so that a screen reader reads what went wrong and a keyboard user
// starts from it. Loaded with the summary, perhaps more than once: it acts once.
(function () {
  if (window.tesseraForms) { return; }
  window.tesseraForms = true;
  function focusSummary() {
    var summary = document.querySelector('[data-error-summary]');
    if (!summary) { return; }
    // A page whose own script already put the focus on the refused field (the credentials card does) keeps it.
    if (document.activeElement && document.activeElement !== document.body) { return; }
    if (!summary.hasAttribute('tabindex')) { summary.setAttribute('tabindex', '-1'); }
    summary.focus();
    summary.scrollIntoView({ block: 'center' });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', focusSummary);
  } else {
    focusSummary();
  }
})();

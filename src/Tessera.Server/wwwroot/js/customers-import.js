// The customer import's second step: the previewed rows go to the server in chunks, each checked again by the
// import use case, with a progress bar and a spoken "n of m written"; then the summary of what was done.
(() => {
  const button = document.getElementById('confirm-import');
  if (!button) return;
  const form = document.getElementById('import-confirm-form');
  const rows = JSON.parse(document.getElementById('import-rows').textContent);
  const progress = document.getElementById('import-progress');
  const status = document.getElementById('import-status');
  const failed = document.getElementById('import-failed');
  const token = form.querySelector('input[name="__RequestVerificationToken"]').value;
  const chunk = Number(button.dataset.chunk) || 500;
  const format = (text, ...values) => values.reduce((t, v, i) => t.replace(`{${i}}`, v.toLocaleString(document.documentElement.lang)), text);

  button.addEventListener('click', async () => {
    button.disabled = true;
    failed.hidden = true;
    const totals = { created: 0, updated: 0, unchanged: 0 };
    let written = 0;
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      let response, body;
      try {
        response = await fetch(form.action, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'RequestVerificationToken': token },
          body: JSON.stringify({ customers: part }),
        });
        body = await response.json().catch(() => ({}));
      } catch (e) {
        response = { ok: false };
        body = { detail: String(e) };
      }

      if (!response.ok) {
        failed.textContent = `${format(button.dataset.failed, written, rows.length)} ${body.detail || response.status || ''}`;
        failed.hidden = false;
        status.textContent = format(button.dataset.progress, written, rows.length);
        return;
      }

      totals.created += body.created;
      totals.updated += body.updated;
      totals.unchanged += body.unchanged;
      written += part.length;
      progress.value = written;
      progress.textContent = `${Math.round(100 * written / rows.length)} %`;
      status.textContent = format(button.dataset.progress, written, rows.length);
    }

    for (const key of Object.keys(totals)) {
      document.getElementById(`summary-${key}`).textContent = totals[key].toLocaleString(document.documentElement.lang);
    }
    document.getElementById('import-summary').hidden = false;
    button.hidden = true;
  });
})();

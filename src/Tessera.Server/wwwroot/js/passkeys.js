// Passkeys (WebAuthn) for the Back Office: adds a passkey, removes one, and signs in or confirms with one.
// The server issues the options (and keeps their challenge); this script only converts between JSON and the
// browser's ArrayBuffers, calls navigator.credentials, posts the answer with the page's antiforgery token,
// and follows the redirect it is given. Loaded by _PasskeyButton and _Passkeys, perhaps both: it binds once. Its
// messages come in the page's language from the container's data-msg-* attributes (English when absent).
(function () {
  if (window.tesseraPasskeys) { return; }
  window.tesseraPasskeys = true;

  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) { base64 += '='; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function container(element) { return element.closest('[data-passkeys]'); }

  function text(box, key, english) { return (box && box.dataset[key]) || english; }

  function showError(box, message) {
    var alert = box.querySelector('[data-passkey-error]');
    alert.textContent = message;
    alert.hidden = false;
  }

  function clearError(box) {
    var alert = box.querySelector('[data-passkey-error]');
    alert.textContent = '';
    alert.hidden = true;
  }

  async function post(box, url, body) {
    var response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'RequestVerificationToken': box.dataset.antiforgery },
      body: JSON.stringify(body || {})
    });
    var text = await response.text();
    var json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!response.ok) {
      throw new Error((json && json.detail) || text(box, 'msgFailed', 'The request failed ({0}). Reload the page and try again.').replace('{0}', response.status));
    }
    return json;
  }

  function describe(box, error) {
    // The browser's own refusals (cancelled, timed out, no matching passkey) say little that helps.
    if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) {
      return text(box, 'msgCancelled', 'The passkey request was cancelled or timed out. Try again.');
    }
    if (error && error.name === 'InvalidStateError') {
      return text(box, 'msgExists', 'This device already holds a passkey for your account.');
    }
    return (error && error.message) || text(box, 'msgBroken', 'The passkey did not work. Try again.');
  }

  async function register(form) {
    var box = container(form);
    clearError(box);
    var name = form.querySelector('[name=name]').value.trim();
    if (!name) { showError(box, text(box, 'msgName', 'Give the passkey a name, so that you can tell it apart later.')); return; }
    var options = await post(box, '/profile/passkeys/options');
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    var credential = await navigator.credentials.create({ publicKey: options });
    var response = credential.response;
    var result = await post(box, '/profile/passkeys', {
      name: name,
      credential: {
        id: credential.id,
        rawId: toBase64url(credential.rawId),
        type: credential.type,
        clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
        response: {
          attestationObject: toBase64url(response.attestationObject),
          clientDataJSON: toBase64url(response.clientDataJSON),
          transports: response.getTransports ? response.getTransports() : []
        }
      }
    });
    window.location.assign(result && result.redirect ? result.redirect : window.location.pathname);
  }

  async function assert(button) {
    var box = container(button);
    clearError(box);
    var returnUrl = new URLSearchParams(window.location.search).get('returnUrl') || '/';
    var options = await post(box, '/signin/passkey/options', { mode: button.dataset.passkeyMode, returnUrl: returnUrl });
    options.challenge = toBuffer(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    var credential = await navigator.credentials.get({ publicKey: options });
    var response = credential.response;
    var result = await post(box, '/signin/passkey', {
      credential: {
        id: credential.id,
        rawId: toBase64url(credential.rawId),
        type: credential.type,
        clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
        response: {
          authenticatorData: toBase64url(response.authenticatorData),
          clientDataJSON: toBase64url(response.clientDataJSON),
          signature: toBase64url(response.signature),
          userHandle: toBase64url(response.userHandle)
        }
      }
    });
    window.location.assign(result.redirect);
  }

  async function remove(button) {
    var box = container(button);
    clearError(box);
    await post(box, '/profile/passkeys/' + encodeURIComponent(button.dataset.passkeyRemove) + '/delete');
    window.location.reload();
  }

  function guarded(element, action) {
    if (!window.PublicKeyCredential && !element.dataset.passkeyRemove) {
      showError(container(element), text(container(element), 'msgUnsupported', 'This browser does not support passkeys.'));
      return;
    }
    element.disabled = true;
    action(element).catch(function (error) { showError(container(element), describe(container(element), error)); })
      .finally(function () { element.disabled = false; });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target.closest('[data-passkey-add]');
    if (!form) { return; }
    event.preventDefault();
    guarded(form, register);
  });

  document.addEventListener('click', function (event) {
    var mode = event.target.closest('[data-passkey-mode]');
    if (mode) { guarded(mode, assert); return; }
    var removal = event.target.closest('[data-passkey-remove]');
    if (removal) { guarded(removal, remove); }
  });
})();

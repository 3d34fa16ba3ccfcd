// Passkeys: runs the WebAuthn ceremony for each form marked `data-passkey`
// ("sign-in", "authenticate" or "register"). The form is hidden until this script shows
// it, so a browser without WebAuthn (or without scripts) never offers a button that
// cannot work. The ceremony's options come from the form's `data-options` URL (a POST
// with the form's CSRF token); the browser's answer goes back in the form's hidden
// `credential` field with a normal form submission, so our redirects and cookies work
// as for a password.
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    var binary = atob(base64 + '==='.slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBytes(d.id) });
    });
  }

  // Options as webauthn-rs sends them (binary fields base64url) to what the browser takes.
  function creationOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk };
  }

  function registration(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(response.attestationObject),
        clientDataJSON: toBase64url(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : undefined
      },
      extensions: {}
    };
  }

  function assertion(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null
      },
      extensions: {}
    };
  }

  function field(form, name) {
    return form.querySelector('input[name="' + name + '"]');
  }

  function showError(form, message) {
    var box = form.querySelector('[data-passkey-error]');
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  async function fetchOptions(form) {
    var body = new URLSearchParams();
    ['csrf_token', 'request_id'].forEach(function (name) {
      var input = field(form, name);
      if (input && input.value) {
        body.set(name, input.value);
      }
    });
    var answer = await fetch(form.dataset.options, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' }
    });
    var json = await answer.json().catch(function () { return {}; });
    if (!answer.ok) {
      throw new Error(json.message || 'Passkeys are not available right now. Try again later.');
    }
    return json;
  }

  function send(form, challengeId, credential) {
    field(form, 'challenge_id').value = challengeId;
    field(form, 'credential').value = JSON.stringify(credential);
    form.submit();
  }

  // The username field's autofill, where the browser offers passkeys in it.
  var conditional = null;

  async function offerInAutofill(form) {
    if (!PublicKeyCredential.isConditionalMediationAvailable) {
      return;
    }
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) {
      return;
    }
    var username = document.querySelector('input[autocomplete~="username"]');
    if (!username) {
      return;
    }
    if (!/\bwebauthn\b/.test(username.getAttribute('autocomplete'))) {
      username.setAttribute('autocomplete', username.getAttribute('autocomplete') + ' webauthn');
    }
    var controller = new AbortController();
    conditional = controller;
    try {
      var json = await fetchOptions(form);
      var options = requestOptions(json.options);
      options.mediation = 'conditional';
      options.signal = controller.signal;
      var credential = await navigator.credentials.get(options);
      if (credential && conditional === controller) {
        send(form, json.challenge_id, assertion(credential));
      }
    } catch (e) {
      // Aborted for the button, or nothing chosen: the form stays as it was.
    }
  }

  async function run(form) {
    var button = form.querySelector('button[type="submit"]');
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    if (button) {
      button.disabled = true;
    }
    try {
      var json = await fetchOptions(form);
      if (form.dataset.passkey === 'register') {
        var created = await navigator.credentials.create(creationOptions(json.options));
        send(form, json.challenge_id, registration(created));
      } else {
        // Without `mediation` (webauthn-rs marks discoverable requests "conditional"):
        // the button's request is the browser's modal one.
        var credential = await navigator.credentials.get(requestOptions(json.options));
        send(form, json.challenge_id, assertion(credential));
      }
    } catch (e) {
      var message = e && e.name === 'NotAllowedError'
        ? 'The passkey request was cancelled or timed out. Try again.'
        : e && e.name === 'InvalidStateError'
          ? 'This passkey is already registered.'
          : (e && e.message) || 'Something went wrong with the passkey. Try again.';
      showError(form, message);
      if (button) {
        button.disabled = false;
      }
    }
  }

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      run(form);
    });
    if (form.dataset.passkey === 'sign-in') {
      offerInAutofill(form);
    }
  });
})();

// Latchkey's one script: the WebAuthn browser API behind the passkey buttons. Every page works
// without it; the passkey forms stay hidden then. A passkey form (data-passkey="register",
// "second_factor" or "sign_in") asks the server for the ceremony's options, hands them to the
// browser (navigator.credentials), and posts the browser's answer (PublicKeyCredential.toJSON) in
// its hidden "credential" field.
(function () {
  "use strict";
  var api = window.PublicKeyCredential;
  if (!api || !api.parseCreationOptionsFromJSON || !api.parseRequestOptionsFromJSON) {
    return;
  }
  function say(form, text) {
    var status = form.querySelector(".passkey-status");
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }
  async function use(form) {
    var purpose = form.dataset.passkey;
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    body.set("purpose", purpose);
    var reply = await fetch(form.dataset.options, {
      method: "POST",
      body: body,
      credentials: "same-origin",
    });
    if (!reply.ok) {
      throw new Error("the server could not start (" + reply.status + ")");
    }
    var options = await reply.json();
    var credential =
      purpose === "register"
        ? await navigator.credentials.create({ publicKey: api.parseCreationOptionsFromJSON(options) })
        : await navigator.credentials.get({ publicKey: api.parseRequestOptionsFromJSON(options) });
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    // form.submit() fires no submit event: this handler does not run again.
    form.submit();
  }
  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.reportValidity && !form.reportValidity()) {
        return;
      }
      say(form, "Follow your browser's prompt…");
      use(form).catch(function (err) {
        say(form, "No passkey was used: " + (err && err.message ? err.message : err));
      });
    });
  });
})();

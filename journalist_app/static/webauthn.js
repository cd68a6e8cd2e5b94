// Security keys (WebAuthn) on the officer app: login as a second factor or alone with a
// PIN, and adding a key to one's account.
//
// Each form carries what it needs in data- attributes: data-webauthn (which ceremony),
// data-options (the server's options as JSON, binary fields in base64url), data-prf-salt
// and data-failed (the translated message when the key does not answer). The script asks
// the browser, writes the key's answer into the form's hidden fields and submits the form:
// no inline code and no fetch, since the page's CSP allows neither. Without this script,
// or without WebAuthn in the browser, the buttons stay hidden and the TOTP code works.
// Served from this host only, loaded with defer.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type || "public-key", id: fromBase64url(item.id) };
    });
  }

  function prfResult(credential) {
    var results = credential.getClientExtensionResults();
    var prf = results && results.prf;
    return prf && prf.results && prf.results.first ? toBase64url(prf.results.first) : "";
  }

  function requestOptions(form, allow) {
    var options = JSON.parse(form.getAttribute("data-options"));
    return {
      challenge: fromBase64url(options.challenge),
      rpId: options.rpId,
      timeout: options.timeout,
      userVerification: "required",
      allowCredentials: allow || descriptors(options.allowCredentials),
      extensions: { prf: { eval: { first: fromBase64url(form.getAttribute("data-prf-salt")) } } },
    };
  }

  function creationOptions(form) {
    var options = JSON.parse(form.getAttribute("data-options"));
    return {
      rp: options.rp,
      user: {
        id: fromBase64url(options.user.id),
        name: options.user.name,
        displayName: options.user.displayName,
      },
      challenge: fromBase64url(options.challenge),
      pubKeyCredParams: options.pubKeyCredParams,
      timeout: options.timeout,
      excludeCredentials: descriptors(options.excludeCredentials),
      authenticatorSelection: options.authenticatorSelection,
      attestation: options.attestation || "none",
      extensions: { prf: { eval: { first: fromBase64url(form.getAttribute("data-prf-salt")) } } },
    };
  }

  function assertionJSON(credential) {
    var response = credential.response;
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
      clientExtensionResults: {},
    });
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
      clientExtensionResults: {},
    });
  }

  function field(form, name) {
    return form.querySelector('[name="' + name + '"]');
  }

  function failed(form) {
    var status = form.querySelector(".webauthn-status");
    if (status) {
      status.textContent = form.getAttribute("data-failed");
      status.hidden = false;
    }
  }

  function secondFactor(form) {
    // The passphrase is still typed: the key replaces the six-digit code only.
    var username = field(form, "username");
    var passphrase = field(form, "passphrase");
    if (!username.reportValidity() || !passphrase.reportValidity()) {
      return;
    }
    navigator.credentials
      .get({ publicKey: requestOptions(form) })
      .then(function (credential) {
        field(form, "assertion").value = assertionJSON(credential);
        form.submit();
      })
      .catch(function () {
        failed(form);
      });
  }

  function passwordless(form) {
    navigator.credentials
      .get({ publicKey: requestOptions(form) })
      .then(function (credential) {
        field(form, "assertion").value = assertionJSON(credential);
        field(form, "prf").value = prfResult(credential);
        form.submit();
      })
      .catch(function () {
        failed(form);
      });
  }

  function register(form) {
    var created;
    navigator.credentials
      .create({ publicKey: creationOptions(form) })
      .then(function (credential) {
        created = credential;
        var prf = prfResult(credential);
        if (prf) {
          return prf;
        }
        // Most keys give the PRF output only when asked to sign: one more touch and PIN.
        var allow = [{ type: "public-key", id: credential.rawId }];
        return navigator.credentials
          .get({ publicKey: requestOptions(form, allow) })
          .then(prfResult)
          .catch(function () {
            return "";
          });
      })
      .then(function (prf) {
        field(form, "registration").value = registrationJSON(created);
        field(form, "prf").value = prf;
        form.submit();
      })
      .catch(function () {
        failed(form);
      });
  }

  var ceremonies = {
    "second-factor": secondFactor,
    passwordless: passwordless,
    register: register,
  };

  Array.prototype.forEach.call(document.querySelectorAll("form[data-webauthn]"), function (form) {
    var ceremony = ceremonies[form.getAttribute("data-webauthn")];
    var start = form.querySelector(".webauthn-start");
    if (!ceremony || !start) {
      return;
    }
    Array.prototype.forEach.call(form.querySelectorAll(".webauthn-missing"), function (note) {
      note.hidden = true;
    });
    start.hidden = false;
    if (start.type === "submit") {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (form.reportValidity()) {
          ceremony(form);
        }
      });
    } else {
      start.addEventListener("click", function () {
        ceremony(form);
      });
    }
  });
})();

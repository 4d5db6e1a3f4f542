// plangate review page: loading more of a diff, copying, and the
// WebAuthn ceremonies. Every state change is a same-origin POST with the
// session's CSRF token in a header.
"use strict";

(function () {
  const csrf = document.body.dataset.csrf || "";

  function b64urlToBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bytesToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function call(method, path, body) {
    const init = { method: method, credentials: "same-origin", headers: {} };
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-Plangate-CSRF"] = csrf;
      init.body = JSON.stringify(body || {});
    }
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      throw new Error((data && data.error) || ("the server answered " + res.status));
    }
    return data;
  }

  // showError puts an error in the container, where a screen reader
  // announces it; null clears it.
  function showError(container, err) {
    let p = container.querySelector(":scope > p.error, :scope .error[data-js]");
    if (!err) {
      if (p) p.remove();
      return;
    }
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.dataset.js = "1";
      container.appendChild(p);
    }
    p.textContent = String(err.message || err);
  }

  function appendSegments(pre, segments) {
    const frag = document.createDocumentFragment();
    for (const s of segments) {
      if (s.c) {
        const span = document.createElement("span");
        span.className = s.c;
        span.textContent = s.t;
        frag.appendChild(span);
      } else {
        frag.appendChild(document.createTextNode(s.t));
      }
    }
    pre.appendChild(frag);
  }

  async function moreDiff(button) {
    const article = button.closest("article.plan");
    const pre = article.querySelector("pre.diff");
    const id = button.dataset.planId;
    button.disabled = true;
    try {
      const q = "page=" + encodeURIComponent(button.dataset.next) + "&v=" + encodeURIComponent(button.dataset.version);
      const data = await call("GET", "/review/api/plans/" + encodeURIComponent(id) + "/diff?" + q);
      appendSegments(pre, data.segments);
      showError(button.parentElement, null);
      if (data.next) {
        button.dataset.next = String(data.next);
        button.disabled = false;
      } else {
        button.hidden = true;
        pre.focus();
      }
    } catch (err) {
      button.disabled = false;
      showError(button.parentElement, err);
    }
  }

  async function copy(button) {
    const scope = button.closest("article.plan, main") || document;
    const target = scope.querySelector("." + button.dataset.copy);
    if (!target) return;
    try {
      await navigator.clipboard.writeText(target.textContent);
      const was = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = was; }, 1500);
    } catch (err) {
      // No clipboard (permissions): select the text for a manual copy.
      const range = document.createRange();
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
  }

  function requestOptions(opts) {
    const pk = Object.assign({}, opts.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = pk.allowCredentials.map(function (c) {
        return Object.assign({}, c, { id: b64urlToBytes(c.id) });
      });
    }
    return { publicKey: pk };
  }

  function creationOptions(opts) {
    const pk = Object.assign({}, opts.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64urlToBytes(pk.user.id) });
    if (pk.excludeCredentials) {
      pk.excludeCredentials = pk.excludeCredentials.map(function (c) {
        return Object.assign({}, c, { id: b64urlToBytes(c.id) });
      });
    }
    return { publicKey: pk };
  }

  function credentialJSON(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bytesToB64url(r.clientDataJSON) },
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = bytesToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bytesToB64url(r.authenticatorData);
      out.response.signature = bytesToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bytesToB64url(r.userHandle);
    }
    return out;
  }

  async function approvePasskey(button) {
    const article = button.closest("article.plan");
    const box = button.closest(".passkey");
    const id = article.dataset.planId;
    const select = box.querySelector('select[name="approver"]');
    const approver = select ? select.value : button.dataset.approver;
    button.disabled = true;
    showError(box, null);
    try {
      const base = "/review/api/plans/" + encodeURIComponent(id);
      const options = await call("POST", base + "/challenge", { approver: approver });
      const cred = await navigator.credentials.get(requestOptions(options));
      if (!cred) throw new Error("the authenticator gave no answer");
      const done = await call("POST", base + "/approve", { approver: approver, response: credentialJSON(cred) });
      const line = box.querySelector(".token-line");
      box.querySelector("output.token").textContent = done.token;
      const needed = article.querySelector(".approvals-needed");
      if (needed && done.approvals) needed.textContent = done.approvals;
      line.hidden = false;
      line.querySelector("button").focus();
    } catch (err) {
      showError(box, err);
    } finally {
      button.disabled = false;
    }
  }

  async function register(button) {
    const main = button.closest("main");
    button.disabled = true;
    showError(main, null);
    try {
      const input = main.querySelector('input[name="name"]');
      const options = await call("POST", "/review/api/register/begin", input ? { name: input.value } : {});
      const cred = await navigator.credentials.create(creationOptions(options));
      if (!cred) throw new Error("the authenticator gave no answer");
      const done = await call("POST", "/review/api/register/finish", { response: credentialJSON(cred) });
      const result = main.querySelector(".result");
      main.querySelector("pre.approver-block").textContent = done.block;
      result.hidden = false;
      button.hidden = true;
      result.querySelector("button").focus();
    } catch (err) {
      button.disabled = false;
      showError(main, err);
    }
  }

  document.addEventListener("click", function (ev) {
    const button = ev.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    switch (button.dataset.action) {
      case "more-diff": moreDiff(button); break;
      case "copy": copy(button); break;
      case "approve-passkey": approvePasskey(button); break;
      case "register": register(button); break;
    }
  });
})();

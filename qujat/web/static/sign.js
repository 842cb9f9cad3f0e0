/* The official's signing page: ask NCALayer (the NCA's desktop app, a local WebSocket) for a
 * detached CMS over the document's SHA-256 digest with its kz.gov.pki.knca.basics module, then
 * post the CMS to our own origin. No framework, no CDN; the key never leaves NCALayer.
 * The page's data come from <script id="sign-config" type="application/json">. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("sign-config").textContent);
  var words = config.words;
  var button = document.getElementById("sign");
  var status = document.getElementById("sign-status");
  var CONNECT_TIMEOUT_MS = 10000;

  function show(kind, message, link) {
    status.hidden = false;
    status.className = "sign-status" + (kind ? " " + kind : "");
    status.textContent = "";
    var p = document.createElement("p");
    p.className = "sign-message";
    p.textContent = message;
    status.appendChild(p);
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.id = "verification-link";
      a.textContent = words["done.link"];
      var q = document.createElement("p");
      q.appendChild(a);
      status.appendChild(q);
    }
  }

  function failed(message) {
    show("error", message);
    button.disabled = false;
  }

  /* NCALayer's basics module answers with a PEM CMS ("-----BEGIN CMS-----"); bare base64 is
   * accepted too. Returns the base64 of the DER. */
  function cmsBase64(result) {
    var value = Array.isArray(result) ? result[0] : result;
    if (value && typeof value === "object" && value.signatures) {
      value = Array.isArray(value.signatures) ? value.signatures[0] : value.signatures;
    }
    if (typeof value !== "string") {
      return null;
    }
    return value.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, "");
  }

  function signRequest() {
    return {
      module: "kz.gov.pki.knca.basics",
      method: "sign",
      args: {
        allowedStorages: ["PKCS12", "AKKaztokenStore", "AKKZIDCardStore", "AKEToken72KStore",
                          "AKEToken5110Store", "AKJaCartaStore", "AKAKEYStore"],
        format: "cms",
        data: config.digest,
        signingParams: { decode: true, encapsulate: false, digested: true, tsaProfile: null },
        signerParams: { extKeyUsageOids: ["1.3.6.1.5.5.7.3.4"], chain: [] },
        locale: config.locale
      }
    };
  }

  /* Resolves with the base64 CMS; rejects with {kind: "no_layer" | "cancelled" | "layer", detail}. */
  function askNcaLayer() {
    return new Promise(function (resolve, reject) {
      var socket;
      var greeted = false;
      var settled = false;
      function settle(fn, value) {
        if (settled) { return; }
        settled = true;
        clearTimeout(timer);
        try { socket.close(); } catch (e) { /* already closed */ }
        fn(value);
      }
      var timer = setTimeout(function () { settle(reject, { kind: "no_layer" }); }, CONNECT_TIMEOUT_MS);
      try {
        socket = new WebSocket(config.ncalayer);
      } catch (e) {
        settle(reject, { kind: "no_layer" });
        return;
      }
      socket.onerror = function () { settle(reject, { kind: "no_layer" }); };
      socket.onclose = function () { settle(reject, { kind: greeted ? "layer" : "no_layer", detail: "closed" }); };
      socket.onmessage = function (event) {
        var reply;
        try {
          reply = JSON.parse(event.data);
        } catch (e) {
          if (event.data === "--heartbeat--") { return; }
          settle(reject, { kind: "layer", detail: "not JSON" });
          return;
        }
        if (!greeted) {
          if (!reply || !reply.result || !reply.result.version) {
            settle(reject, { kind: "no_layer" });
            return;
          }
          greeted = true;
          clearTimeout(timer);            // the official may take minutes in the key dialog
          show("", words["working.choose"]);
          socket.send(JSON.stringify(signRequest()));
          return;
        }
        if (reply && reply.status === true) {
          if (!reply.body || !Object.prototype.hasOwnProperty.call(reply.body, "result")) {
            settle(reject, { kind: "cancelled" });
            return;
          }
          var cms = cmsBase64(reply.body.result);
          if (cms) {
            settle(resolve, cms);
          } else {
            settle(reject, { kind: "layer", detail: "no CMS in the answer" });
          }
          return;
        }
        var detail = reply && (reply.code || reply.errorCode || reply.message) || "error";
        settle(reject, { kind: "layer", detail: String(detail) });
      };
    });
  }

  function post(cms) {
    show("", words["working.send"]);
    return fetch(config.post, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ cms: cms }),
      credentials: "same-origin",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          button.hidden = true;
          var link = body.verification_url ? body.verification_url + "?lang=" + encodeURIComponent(config.locale) : null;
          show("ok", words[body.status === "valid" ? "done.valid" : "done.next"], link);
          return;
        }
        var message = words["err.refused"];
        if (body && words["refused." + body.code]) {
          message += " " + words["refused." + body.code];
        } else if (body && body.message) {
          message += " " + body.message;
        }
        if (response.status === 403 || response.status === 410) {
          show("error", message);       // the ticket is spent or wrong: trying again cannot help
          return;
        }
        failed(message);
      });
    }, function () {
      failed(words["err.network"]);
    });
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    show("", words["working.connect"]);
    askNcaLayer().then(post, function (why) {
      if (why.kind === "cancelled") {
        failed(words["err.cancelled"]);
      } else if (why.kind === "layer") {
        failed(words["err.layer"].replace("{detail}", why.detail || ""));
      } else {
        failed(words["err.no_layer"]);
      }
    });
  });
  button.disabled = false;
}());

// A stand-in for Stripe.js v3, served by the Stripe stand-in at /v3/, for
// tests: the subset Tessera's checkout uses, with Stripe's names and
// answers. Stripe(publishableKey) -> stripe; stripe.elements({mode,
// amount, currency}) -> elements; elements.create("payment").mount(selector);
// elements.submit(); stripe.confirmPayment({elements, clientSecret,
// redirect: "if_required"}) -> {paymentIntent} or {error}. A payment that
// needs 3-D Secure opens a challenge dialog, as Stripe's frame does.
//
// Unlike Stripe, the card fields are plain inputs in the page rather than
// in a frame from another origin; like Stripe, the card number goes from
// them straight to the processor (this stand-in), never to the shop.
(function () {
  "use strict";
  var script = document.currentScript;
  var apiBase = new URL(script ? script.src : location.href).origin;

  function post(path, fields) {
    var body = new URLSearchParams(fields);
    return fetch(apiBase + path, { method: "POST", body: body }).then(function (response) {
      return response.json().then(function (json) {
        return { ok: response.ok, json: json };
      });
    });
  }

  function intentId(clientSecret) {
    return String(clientSecret).split("_secret_")[0];
  }

  function field(label, name, placeholder, autocomplete) {
    var wrapper = document.createElement("label");
    wrapper.textContent = label;
    var input = document.createElement("input");
    input.name = name;
    input.placeholder = placeholder;
    input.autocomplete = autocomplete;
    input.inputMode = "numeric";
    input.setAttribute("data-stripe-field", name);
    wrapper.appendChild(input);
    return { wrapper: wrapper, input: input };
  }

  function PaymentElement() {
    this.node = null;
    this.inputs = {};
  }
  PaymentElement.prototype.mount = function (target) {
    var host = typeof target === "string" ? document.querySelector(target) : target;
    if (!host) throw new Error("Stripe stand-in: no element to mount into");
    var box = document.createElement("div");
    box.className = "stripe-standin-payment-element";
    var self = this;
    [
      ["Card number", "number", "1234 1234 1234 1234", "cc-number"],
      ["Expiry", "exp", "MM / YY", "cc-exp"],
      ["CVC", "cvc", "CVC", "cc-csc"],
    ].forEach(function (spec) {
      var made = field(spec[0], spec[1], spec[2], spec[3]);
      self.inputs[spec[1]] = made.input;
      box.appendChild(made.wrapper);
    });
    host.appendChild(box);
    this.node = box;
    return this;
  };
  PaymentElement.prototype.unmount = function () {
    if (this.node && this.node.parentNode) this.node.parentNode.removeChild(this.node);
    this.node = null;
  };
  PaymentElement.prototype.card = function () {
    var inputs = this.inputs;
    return {
      number: (inputs.number && inputs.number.value) || "",
      exp: (inputs.exp && inputs.exp.value) || "",
      cvc: (inputs.cvc && inputs.cvc.value) || "",
    };
  };

  function Elements(options) {
    this.options = options || {};
    this.element = null;
  }
  Elements.prototype.create = function (kind) {
    if (kind !== "payment") throw new Error("Stripe stand-in: only the payment element");
    this.element = new PaymentElement();
    return this.element;
  };
  Elements.prototype.submit = function () {
    var card = this.element ? this.element.card() : { number: "" };
    if (card.number.replace(/\D/g, "").length < 12) {
      return Promise.resolve({
        error: { type: "validation_error", code: "incomplete_number", message: "Your card number is incomplete." },
      });
    }
    return Promise.resolve({});
  };

  // The bank's challenge: resolves true when the buyer completes it.
  function challenge() {
    return new Promise(function (resolve) {
      var dialog = document.createElement("div");
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-label", "Authenticate your payment");
      dialog.className = "stripe-standin-3ds";
      dialog.style.cssText =
        "position:fixed;inset:0;display:flex;align-items:center;justify-content:center;" +
        "background:rgba(0,0,0,.5);z-index:10000";
      var panel = document.createElement("div");
      panel.style.cssText = "background:#fff;color:#000;padding:1.5rem;border-radius:8px;max-width:22rem";
      panel.innerHTML =
        "<h2>3D Secure test payment</h2><p>Your bank asks you to confirm this payment.</p>";
      [
        ["Complete authentication", true],
        ["Fail authentication", false],
      ].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = spec[0];
        button.onclick = function () {
          document.body.removeChild(dialog);
          resolve(spec[1]);
        };
        panel.appendChild(button);
      });
      dialog.appendChild(panel);
      document.body.appendChild(dialog);
    });
  }

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey);
    this.key = publishableKey;
  }
  Stripe.prototype.elements = function (options) {
    return new Elements(options);
  };
  Stripe.prototype.confirmPayment = function (params) {
    var key = this.key;
    var secret = params.clientSecret;
    var id = intentId(secret);
    var card = params.elements && params.elements.element ? params.elements.element.card() : { number: "" };
    var fields = {
      key: key,
      client_secret: secret,
      "payment_method_data[type]": "card",
      "payment_method_data[card][number]": card.number,
      "payment_method_data[card][exp]": card.exp,
      "payment_method_data[card][cvc]": card.cvc,
    };
    return post("/v1/payment_intents/" + id + "/confirm", fields).then(function (answer) {
      if (!answer.ok) return { error: answer.json.error };
      var intent = answer.json;
      if (intent.status !== "requires_action") return { paymentIntent: intent };
      return challenge().then(function (passed) {
        return post("/_stand_in/3ds/" + id, {
          key: key,
          client_secret: secret,
          outcome: passed ? "pass" : "fail",
        }).then(function (done) {
          if (!done.ok) return { error: done.json.error };
          if (done.json.status === "succeeded") return { paymentIntent: done.json };
          return { error: done.json.last_payment_error };
        });
      });
    });
  };

  window.Stripe = Stripe;
})();

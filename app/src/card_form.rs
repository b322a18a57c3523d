//! The processor's card form (Stripe's Payment Element) on the checkout
//! page, through Stripe.js. The card fields belong to Stripe.js: neither
//! this wasm nor Tessera's server ever reads a card number. The page asks
//! the server for a payment (`payment: {"element": true}` → its client
//! secret), then Stripe.js confirms it, showing 3-D Secure when the bank
//! asks, and the page asks the server again to finish the purchase.
//!
//! Only in the browser: on the server every call answers "unavailable".

use crate::types::CardFormConfig;

/// A mounted card form: the `Stripe` object and its `elements` group.
#[derive(Clone)]
pub struct CardForm {
    #[cfg(feature = "hydrate")]
    stripe: wasm_bindgen::JsValue,
    #[cfg(feature = "hydrate")]
    elements: wasm_bindgen::JsValue,
}

/// A failure Stripe.js reported, in its own words (safe to show).
pub type CardFormError = String;

#[cfg(feature = "hydrate")]
mod browser {
    use super::{CardForm, CardFormConfig, CardFormError};
    use js_sys::{Function, Object, Promise, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    fn get(target: &JsValue, name: &str) -> Result<JsValue, CardFormError> {
        Reflect::get(target, &JsValue::from_str(name))
            .map_err(|_| format!("the card form has no {name}"))
    }

    /// Calls `target.name(args…)`.
    fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, CardFormError> {
        let function: Function = get(target, name)?
            .dyn_into()
            .map_err(|_| format!("the card form's {name} is not a function"))?;
        let array = args.iter().collect::<js_sys::Array>();
        function
            .apply(target, &array)
            .map_err(|error| message_of(&error))
    }

    async fn awaited(value: JsValue) -> Result<JsValue, CardFormError> {
        let promise: Promise = value
            .dyn_into()
            .map_err(|_| "the card form did not answer".to_string())?;
        JsFuture::from(promise)
            .await
            .map_err(|error| message_of(&error))
    }

    fn message_of(error: &JsValue) -> String {
        Reflect::get(error, &JsValue::from_str("message"))
            .ok()
            .and_then(|message| message.as_string())
            .unwrap_or_else(|| "the payment could not be completed".into())
    }

    fn object(pairs: &[(&str, JsValue)]) -> JsValue {
        let object = Object::new();
        for (key, value) in pairs {
            let _ = Reflect::set(&object, &JsValue::from_str(key), value);
        }
        object.into()
    }

    /// `{error: {message}}` in a Stripe.js answer, as text.
    fn error_in(answer: &JsValue) -> Option<String> {
        let error = Reflect::get(answer, &JsValue::from_str("error")).ok()?;
        (!error.is_undefined() && !error.is_null()).then(|| message_of(&error))
    }

    /// Loads Stripe.js once per page.
    async fn load_script(url: &str) -> Result<(), CardFormError> {
        let window = web_sys::window().ok_or("no window")?;
        if Reflect::has(&window, &JsValue::from_str("Stripe")).unwrap_or(false) {
            return Ok(());
        }
        let document = window.document().ok_or("no document")?;
        let script: web_sys::HtmlScriptElement = document
            .create_element("script")
            .map_err(|_| "cannot add Stripe.js")?
            .dyn_into()
            .map_err(|_| "cannot add Stripe.js")?;
        script.set_src(url);
        let loaded = Promise::new(&mut |resolve, reject| {
            script.set_onload(Some(&resolve));
            script.set_onerror(Some(&reject));
        });
        document
            .head()
            .ok_or("no document head")?
            .append_child(&script)
            .map_err(|_| "cannot add Stripe.js")?;
        JsFuture::from(loaded)
            .await
            .map(|_| ())
            .map_err(|_| "the payment form could not be loaded; check your connection".into())
    }

    impl CardForm {
        /// Loads Stripe.js and mounts the Payment Element into `selector`,
        /// for a payment of `amount_cents` (Stripe's deferred payment: the
        /// payment itself is created when the buyer pays).
        pub async fn mount(
            config: &CardFormConfig,
            amount_cents: i64,
            selector: &str,
        ) -> Result<Self, CardFormError> {
            load_script(&config.js_url).await?;
            let window: JsValue = web_sys::window().ok_or("no window")?.into();
            let stripe = call(
                &window,
                "Stripe",
                &[JsValue::from_str(&config.publishable_key)],
            )?;
            let options = object(&[
                ("mode", JsValue::from_str("payment")),
                ("amount", JsValue::from_f64(amount_cents as f64)),
                ("currency", JsValue::from_str("usd")),
            ]);
            let elements = call(&stripe, "elements", &[options])?;
            let element = call(&elements, "create", &[JsValue::from_str("payment")])?;
            call(&element, "mount", &[JsValue::from_str(selector)])?;
            Ok(Self { stripe, elements })
        }

        /// Checks the fields (Stripe.js's own validation) before anything
        /// is created.
        pub async fn submit(&self) -> Result<(), CardFormError> {
            let answer = awaited(call(&self.elements, "submit", &[])?).await?;
            error_in(&answer).map_or(Ok(()), Err)
        }

        /// Confirms the payment with the card in the form, showing the
        /// bank's 3-D Secure challenge when it asks for one; stays on the
        /// page (`redirect: "if_required"`).
        pub async fn confirm(&self, client_secret: &str) -> Result<(), CardFormError> {
            let return_url = web_sys::window()
                .and_then(|w| w.location().href().ok())
                .unwrap_or_default();
            let params = object(&[
                ("elements", self.elements.clone()),
                ("clientSecret", JsValue::from_str(client_secret)),
                ("redirect", JsValue::from_str("if_required")),
                (
                    "confirmParams",
                    object(&[("return_url", JsValue::from_str(&return_url))]),
                ),
            ]);
            let answer = awaited(call(&self.stripe, "confirmPayment", &[params])?).await?;
            error_in(&answer).map_or(Ok(()), Err)
        }
    }
}

#[cfg(not(feature = "hydrate"))]
impl CardForm {
    pub async fn mount(
        _config: &CardFormConfig,
        _amount_cents: i64,
        _selector: &str,
    ) -> Result<Self, CardFormError> {
        Err("the card form runs in the browser".into())
    }

    pub async fn submit(&self) -> Result<(), CardFormError> {
        Err("the card form runs in the browser".into())
    }

    pub async fn confirm(&self, _client_secret: &str) -> Result<(), CardFormError> {
        Err("the card form runs in the browser".into())
    }
}

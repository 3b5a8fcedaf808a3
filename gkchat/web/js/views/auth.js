// Sign in and create an account.

import { api } from "../api.js";
import { h } from "../dom.js";

export function renderAuth(root, { onSignedIn }) {
  let mode = "signin";
  const error = h("p.form-error", { role: "alert", "data-testid": "auth-error" });

  const field = (label, input) => h("label.field", {}, h("span.field-label", {}, label), input);
  const username = h("input", {
    name: "username", autocomplete: "username", required: true, minLength: 3, maxLength: 32,
    pattern: "[A-Za-z0-9_.]{3,32}", title: "3 to 32 letters, digits, _ or .",
  });
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true });
  const login = h("input", { name: "login", autocomplete: "username", required: true });
  const password = h("input", {
    name: "password", type: "password", required: true, minLength: 8, autocomplete: "current-password",
  });
  const submit = h("button.button.primary.wide", { type: "submit" });
  const switcher = h("button.link", { type: "button", onclick: () => setMode(mode === "signin" ? "signup" : "signin") });
  const switchText = h("span");
  const fields = h("div.fields");
  const title = h("h1.auth-title");

  const form = h(
    "form.auth-card",
    { onsubmit: submitForm, "data-testid": "auth-form", novalidate: false },
    h("div.brand", {}, h("img.brand-logo", { src: "/assets/icon.svg", alt: "" }), h("span", {}, "GK-Chat")),
    title,
    fields,
    error,
    submit,
    h("p.auth-switch", {}, switchText, " ", switcher),
  );

  function setMode(next) {
    mode = next;
    error.textContent = "";
    const signup = mode === "signup";
    title.textContent = signup ? "Create your account" : "Welcome back";
    submit.textContent = signup ? "Create account" : "Sign in";
    switchText.textContent = signup ? "Already have an account?" : "New here?";
    switcher.textContent = signup ? "Sign in" : "Create an account";
    password.autocomplete = signup ? "new-password" : "current-password";
    fields.replaceChildren(
      ...(signup
        ? [field("Username", username), field("Email", email), field("Password", password),
           h("p.hint", {}, "At least 8 characters. Common passwords are refused.")]
        : [field("Username or email", login), field("Password", password)]),
    );
    (signup ? username : login).focus();
  }

  async function submitForm(event) {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      const result = mode === "signup"
        ? await api.register(username.value, email.value, password.value)
        : await api.login(login.value, password.value);
      password.value = "";
      onSignedIn(result.user);
    } catch (failure) {
      error.textContent = failure.retryAfter
        ? `${failure.message} Try again in ${failure.retryAfter} s.`
        : failure.message;
    } finally {
      submit.disabled = false;
    }
  }

  root.replaceChildren(h("div.auth-screen", {}, form));
  setMode(mode);
}

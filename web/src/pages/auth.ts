import { api, errorText, setSession } from "../api";
import { alertBox, field, h, showAlert } from "../dom";
import { go, type Page } from "../nav";

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

async function signIn(email: string, password: string): Promise<void> {
  const tokens = await api<Tokens>("POST", "/auth/login", { body: { email, password }, auth: false });
  setSession(tokens, email);
}

function nextPage(query: URLSearchParams): string {
  const next = query.get("next");
  return next && next.startsWith("#/") && !next.startsWith("#/sign") ? next : "#/library";
}

function authForm(opts: {
  heading: string;
  submitLabel: string;
  withName: boolean;
  passwordHint?: string;
  onSubmit: (email: string, password: string, name: string) => Promise<void>;
  footer: HTMLElement;
  notice?: string;
}): HTMLElement {
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: 320 });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: opts.withName ? "new-password" : "current-password",
    required: true,
    minlength: opts.withName ? 10 : 1,
  });
  const name = h("input", { type: "text", name: "display_name", autocomplete: "nickname", maxlength: 100 });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary" }, opts.submitLabel);
  const form = h(
    "form",
    { class: "card narrow", novalidate: false },
    h("h1", null, opts.heading),
    opts.notice ? h("p", { class: "alert info", role: "status" }, opts.notice) : null,
    alert,
    field("Email", email),
    field("Password", password, opts.passwordHint),
    opts.withName ? field("Display name (optional)", name) : null,
    h("div", { class: "actions" }, submit),
    opts.footer,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showAlert(alert, null);
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await opts.onSubmit(email.value.trim(), password.value, name.value.trim());
    } catch (err) {
      showAlert(alert, errorText(err));
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  queueMicrotask(() => email.focus());
  return form;
}

export const renderSignIn: Page = (main, _params, query) => {
  main.append(
    authForm({
      heading: "Sign in",
      submitLabel: "Sign in",
      withName: false,
      notice: query.get("expired") ? "Your session has expired. Sign in again to continue." : undefined,
      onSubmit: async (email, password) => {
        await signIn(email, password);
        go(nextPage(query));
      },
      footer: h("p", { class: "muted" }, "New to Skyreel? ", h("a", { href: "#/signup" }, "Create an account")),
    }),
  );
};

export const renderSignUp: Page = (main, _params, query) => {
  main.append(
    authForm({
      heading: "Create your account",
      submitLabel: "Sign up",
      withName: true,
      passwordHint: "At least 10 characters; a passphrase is best.",
      onSubmit: async (email, password, name) => {
        await api("POST", "/auth/register", {
          body: { email, password, ...(name ? { display_name: name } : {}) },
          auth: false,
        });
        await signIn(email, password);
        go(nextPage(query));
      },
      footer: h("p", { class: "muted" }, "Already have an account? ", h("a", { href: "#/signin" }, "Sign in")),
    }),
  );
};

import { api, API_KEY_SCOPES, errorText, type ApiKey } from "../api";
import { alertBox, confirmDialog, copyText, field, formatDate, h, replace, showAlert } from "../dom";
import { type Page } from "../nav";

export const renderKeys: Page = (main) => {
  let alive = true;
  const name = h("input", { type: "text", name: "name", required: true, maxlength: 80, placeholder: "e.g. CI uploads" });
  const boxes = API_KEY_SCOPES.map(({ scope }) => h("input", { type: "checkbox", name: "scopes", value: scope, id: `scope-${scope.replace(":", "-")}`, checked: scope === "videos:read" }));
  const alert = alertBox();
  const created = h("section", { class: "new-key", hidden: true, "aria-live": "polite" });
  const listAlert = alertBox();
  const list = h("div", { class: "table-wrap", "aria-live": "polite" });
  const create = h("button", { type: "submit", class: "primary" }, "Create key");

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "new-key-h" },
    h("h2", { id: "new-key-h" }, "Create an API key"),
    alert,
    field("Name", name, "What the key is for, so you recognise it later."),
    h(
      "fieldset",
      { class: "scopes" },
      h("legend", null, "Scopes"),
      API_KEY_SCOPES.map(({ scope, what }, i) => h("div", { class: "check" }, boxes[i], h("label", { for: boxes[i].id }, h("code", null, scope), ` ${what}`))),
    ),
    h("div", { class: "actions" }, create),
  );

  function showNewKey(key: ApiKey & { key: string }): void {
    const value = h("input", { type: "text", id: "new-key-value", readonly: true, value: key.key, class: "mono" });
    const copied = h("span", { class: "muted", "aria-live": "polite" });
    const copy = h("button", {
      type: "button",
      class: "primary",
      onclick: async () => {
        copied.textContent = (await copyText(key.key, value)) ? "Copied." : "Copy failed: select the key and copy it.";
      },
    }, "Copy key");
    replace(
      created,
      h("h2", null, `Your new key “${key.name}”`),
      h("p", null, h("strong", null, "Copy it now: it is shown only once."), " Skyreel keeps only a hash of it. Send it as the ", h("code", null, "X-API-Key"), " header."),
      h("div", { class: "field" }, h("label", { for: value.id }, "New API key"), h("div", { class: "copy-row" }, value, copy)),
      copied,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: () => { created.hidden = true; created.replaceChildren(); } }, "I have saved it")),
    );
    created.hidden = false;
    value.focus();
    value.select();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showAlert(alert, null);
    const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!name.value.trim()) {
      showAlert(alert, "Give the key a name.");
      name.focus();
      return;
    }
    if (!scopes.length) {
      showAlert(alert, "Choose at least one scope.");
      boxes[0].focus();
      return;
    }
    create.disabled = true;
    try {
      const key = await api<ApiKey & { key: string }>("POST", "/auth/api-keys", { body: { name: name.value.trim(), scopes } });
      form.reset();
      boxes.forEach((b) => (b.checked = b.value === "videos:read"));
      showNewKey(key);
      await load();
    } catch (err) {
      showAlert(alert, errorText(err));
    } finally {
      create.disabled = false;
    }
  });

  async function revoke(key: ApiKey): Promise<void> {
    if (!(await confirmDialog("Revoke this key?", `Requests with “${key.name}” (${key.prefix}…) are refused from now on. This cannot be undone.`, "Revoke key"))) return;
    try {
      await api("DELETE", `/auth/api-keys/${key.id}`);
      showAlert(listAlert, `Revoked “${key.name}”.`, "ok");
      await load();
    } catch (err) {
      showAlert(listAlert, errorText(err));
    }
  }

  async function load(): Promise<void> {
    list.setAttribute("aria-busy", "true");
    try {
      const { items } = await api<{ items: ApiKey[] }>("GET", "/auth/api-keys");
      if (!alive) return;
      list.removeAttribute("aria-busy");
      if (!items.length) {
        replace(list, h("p", { class: "muted empty-line" }, "No API keys yet. Create one above to call the API from scripts, CI or the CLI."));
        return;
      }
      replace(
        list,
        h(
          "table",
          null,
          h("caption", { class: "visually-hidden" }, "Your API keys"),
          h("thead", null, h("tr", null, ["Name", "Key", "Scopes", "Created", "Last used", ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            items.map((k) =>
              h(
                "tr",
                { dataset: { key: k.id } },
                h("td", null, k.name),
                h("td", null, h("code", null, `${k.prefix}…`)),
                h("td", null, k.scopes.map((s) => h("code", { class: "scope" }, s))),
                h("td", null, formatDate(k.created_at)),
                h("td", null, formatDate(k.last_used_at)),
                h("td", null, h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${k.name}`, onclick: () => void revoke(k) }, "Revoke")),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      list.removeAttribute("aria-busy");
      showAlert(listAlert, errorText(err));
    }
  }

  main.append(h("h1", null, "API keys"), form, created, h("section", { "aria-labelledby": "keys-list-h" }, h("h2", { id: "keys-list-h" }, "Your keys"), listAlert, list));
  void load();
  return () => {
    alive = false;
  };
};

// The console's shell: sign-in, the language, the navigation and the hash router.

import * as api from "./api.js";
import { LANGUAGES, browserLanguage, load, t, translate, lang, match } from "./i18n.js";
import { h, clear, errorBox, showError, toast } from "./dom.js";
import { TENANT_PAGES } from "./pages/tenant.js";
import { OPERATOR_PAGES } from "./pages/operator.js";

const KEY = "minutely.key";
const PICKED = "minutely.lang";
const OPERATOR_TENANT = "minutely.tenant";

const state = { me: null, tenant: null, info: null };

const $ = (id) => document.getElementById(id);

function kindLabel(kind) {
  return { operator: t("kind.operator"), tenant_admin: t("kind.tenant_admin"), bridge: t("kind.bridge") }[kind] || kind;
}

async function useLanguage(code) {
  await load(code);
  api.setLanguage(code);
  translate();
  const selector = $("lang-select");
  selector.replaceChildren(...LANGUAGES.map((l) => h("option", { value: l.code, selected: l.code === code, text: l.name })));
}

/** The user picked a language: apply it, and keep it with the key's preferences. */
async function pickLanguage(code) {
  await useLanguage(code);
  if (state.me) {
    try {
      state.me = await api.put("/v1/me/preferences", { lang: code });
    } catch (error) {
      toast(t("lang.not_saved"), "error");
    }
  } else {
    sessionStorage.setItem(PICKED, code);
  }
  renderShell();
  route();
}

function pages() {
  if (!state.me) return [];
  const list = [];
  if (state.me.kind === "operator") list.push(...OPERATOR_PAGES);
  if (state.tenant) list.push(...TENANT_PAGES.filter((p) => !p.operatorOnly || state.me.kind === "operator"));
  return list;
}

function renderShell() {
  const signedIn = Boolean(state.me);
  $("signin").hidden = signedIn;
  $("nav").hidden = !signedIn;
  $("who").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  if (!signedIn) {
    clear($("page"));
    return;
  }
  $("who-kind").textContent = kindLabel(state.me.kind);
  $("who-label").textContent = state.tenant ? `${state.me.label} · ${state.tenant}` : state.me.label;
  const nav = $("nav");
  nav.replaceChildren();
  let group = null;
  for (const page of pages()) {
    if (page.group !== group) {
      group = page.group;
      const heading = group === "tenant" ? t("nav.tenant", { tenant: state.tenant }) : t("nav.operator");
      nav.append(h("div", { class: "nav-group", text: heading }));
    }
    nav.append(h("a", { href: `#/${page.id}`, dataset: { page: page.id }, text: page.label() }));
  }
}

async function route() {
  if (!state.me) return;
  const list = pages();
  const id = location.hash.replace(/^#\/?/, "").split("?")[0];
  const page = list.find((p) => p.id === id) || list[0];
  if (!page) return;
  if (page.id !== id) {
    history.replaceState(null, "", `#/${page.id}`);
  }
  for (const link of $("nav").querySelectorAll("a")) {
    link.classList.toggle("active", link.dataset.page === page.id);
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const target = $("page");
  const token = Symbol("render");
  route.current = token;
  clear(target, h("p", { class: "loading", text: t("common.loading") }));
  const ctx = {
    me: state.me,
    tenant: state.tenant,
    info: state.info,
    openTenant,
    rerender: route,
  };
  try {
    const node = await page.render(ctx);
    if (route.current === token) clear(target, h("h1", { text: page.label() }), node);
  } catch (error) {
    if (route.current === token) clear(target, h("h1", { text: page.label() }), errorBox(error));
  }
}

/** Operator: work on one tenant's pages. */
async function openTenant(id) {
  state.tenant = id;
  state.info = id ? await api.get(`/v1/tenants/${api.enc(id)}`) : null;
  if (id) sessionStorage.setItem(OPERATOR_TENANT, id);
  else sessionStorage.removeItem(OPERATOR_TENANT);
  renderShell();
  location.hash = id ? "#/overview" : "#/tenants";
}

async function signIn(key) {
  api.setKey(key);
  const me = await api.get("/v1/me");
  if (me.kind === "bridge") {
    api.setKey(null);
    const error = new Error(t("signin.bridge_refused"));
    error.status = 403;
    error.message = t("signin.bridge_refused");
    throw error;
  }
  sessionStorage.setItem(KEY, key);
  state.me = me;
  const picked = sessionStorage.getItem(PICKED);
  if (picked && picked !== me.lang) {
    try {
      state.me = await api.put("/v1/me/preferences", { lang: picked });
    } catch {
      toast(t("lang.not_saved"), "error");
    }
  }
  sessionStorage.removeItem(PICKED);
  const wanted = match(state.me.lang) || picked || browserLanguage();
  if (wanted !== lang()) await useLanguage(wanted);
  if (me.kind === "tenant_admin") {
    state.tenant = me.tenant;
  } else {
    state.tenant = sessionStorage.getItem(OPERATOR_TENANT);
  }
  state.info = state.tenant ? await api.get(`/v1/tenants/${api.enc(state.tenant)}`) : null;
  renderShell();
  await route();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(OPERATOR_TENANT);
  api.setKey(null);
  state.me = null;
  state.tenant = null;
  state.info = null;
  history.replaceState(null, "", "#/");
  renderShell();
  $("signin-key").value = "";
  $("signin-key").focus();
}

async function start() {
  const initial = sessionStorage.getItem(PICKED) || browserLanguage();
  await useLanguage(initial);
  $("lang-select").addEventListener("change", (event) => pickLanguage(event.target.value));
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const slot = $("signin-error");
    slot.replaceChildren();
    const key = $("signin-key").value.trim();
    try {
      await signIn(key);
    } catch (error) {
      api.setKey(null);
      state.me = null;
      showError(slot, error);
    }
  });
  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    try {
      await signIn(saved);
      return;
    } catch {
      sessionStorage.removeItem(KEY);
      api.setKey(null);
    }
  }
  renderShell();
}

start();

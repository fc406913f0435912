// Localized labels of the API's enumerations. Each key is written out so the catalogue test
// can see it.

import { t } from "./i18n.js";

const CATEGORIES = {
  dial_in_toll: () => t("cat.dial_in_toll"),
  dial_in_toll_free: () => t("cat.dial_in_toll_free"),
  dial_out: () => t("cat.dial_out"),
};

export const CATEGORY_IDS = Object.keys(CATEGORIES);

export function category(id) {
  return CATEGORIES[id] ? CATEGORIES[id]() : id;
}

/** The export's Call Type and Number Type columns as a category id. */
export function categoryOfRow(callType, numberType) {
  if (callType === "conf_out") return "dial_out";
  return numberType === "toll_free" ? "dial_in_toll_free" : "dial_in_toll";
}

const FUNDINGS = {
  included: () => t("funding.included"),
  add_on: () => t("funding.add_on"),
  pool: () => t("funding.pool"),
  pool_and_credits: () => t("funding.pool_and_credits"),
  credits: () => t("funding.credits"),
};

export const FUNDING_IDS = Object.keys(FUNDINGS);

export function funding(id) {
  return FUNDINGS[id] ? FUNDINGS[id]() : id || "—";
}

const ENTRY_KINDS = {
  funding: () => t("entry.funding"),
  recharge: () => t("entry.recharge"),
  debit: () => t("entry.debit"),
  forfeit: () => t("entry.forfeit"),
};

export function entryKind(id) {
  return ENTRY_KINDS[id] ? ENTRY_KINDS[id]() : id;
}

const NUMBER_KINDS = {
  toll: () => t("number.toll"),
  toll_free: () => t("number.toll_free"),
};

export function numberKind(id) {
  return NUMBER_KINDS[id] ? NUMBER_KINDS[id]() : id;
}

const SCOPES = {
  any: () => t("scope.any"),
  domestic: () => t("scope.domestic"),
  zone_a: () => t("scope.zone_a"),
  disabled: () => t("scope.disabled"),
};

export function scope(id) {
  return SCOPES[id] ? SCOPES[id]() : id;
}

const LICENSES = {
  MCOMEETADD: () => t("sku.MCOMEETADD"),
  MCOMEETACPEA: () => t("sku.MCOMEETACPEA"),
  MCOPSTNPP: () => t("sku.MCOPSTNPP"),
  MCOMEETADD_DIALOUT_US: () => t("sku.MCOMEETADD_DIALOUT_US"),
};

export const SKUS = Object.keys(LICENSES);

export function license(sku) {
  return LICENSES[sku] ? LICENSES[sku]() : sku;
}

const AGREEMENTS = {
  volume_licensing: () => t("agreement.volume_licensing"),
  online_subscription: () => t("agreement.online_subscription"),
  post_usage: () => t("agreement.post_usage"),
  reseller: () => t("agreement.reseller"),
};

export const AGREEMENT_IDS = Object.keys(AGREEMENTS);

export function agreement(id) {
  return AGREEMENTS[id] ? AGREEMENTS[id]() : id;
}

const LOT_SOURCES = {
  manual: () => t("lot.manual"),
  recharge: () => t("lot.recharge"),
  auto_recharge: () => t("lot.recharge"),
};

export function lotSource(id) {
  return LOT_SOURCES[id] ? LOT_SOURCES[id]() : id;
}

const REASONS = {
  ppm_requires_volume_licensing: () => t("reason.ppm_requires_volume_licensing"),
  country_ppm_only: () => t("reason.country_ppm_only"),
  country_not_supported: () => t("reason.country_not_supported"),
  credits_unavailable_in_country: () => t("reason.credits_unavailable_in_country"),
  credits_unavailable_for_agreement: () => t("reason.credits_unavailable_for_agreement"),
  credits_not_set_up: () => t("reason.credits_not_set_up"),
  number_kind_unavailable: () => t("reason.number_kind_unavailable"),
  license_limit_exceeded: () => t("reason.license_limit_exceeded"),
  conflicting_conferencing_licenses: () => t("reason.conflicting_conferencing_licenses"),
  invalid_number: () => t("reason.invalid_number"),
  no_rate: () => t("reason.no_rate"),
  amount_below_minimum: () => t("reason.amount_below_minimum"),
  amount_not_whole: () => t("reason.amount_not_whole"),
  amount_out_of_range: () => t("reason.amount_out_of_range"),
  insufficient_credits: () => t("reason.insufficient_credits"),
  organizer_not_enabled: () => t("reason.organizer_not_enabled"),
  toll_free_disabled: () => t("reason.toll_free_disabled"),
  policy_disabled: () => t("reason.policy_disabled"),
  policy_domestic_only: () => t("reason.policy_domestic_only"),
  policy_zone_a_only: () => t("reason.policy_zone_a_only"),
  credits_license_missing: () => t("reason.credits_license_missing"),
  call_id_reused: () => t("reason.call_id_reused"),
  invalid_record: () => t("reason.invalid_record"),
  unknown_service_number: () => t("reason.unknown_service_number"),
  funding_not_permitted: () => t("reason.funding_not_permitted"),
  upn_not_unique: () => t("reason.upn_not_unique"),
  invalid_policy: () => t("reason.invalid_policy"),
  unknown_tenant: () => t("reason.unknown_tenant"),
  unknown_user: () => t("reason.unknown_user"),
  fraud_destination_blocked: () => t("reason.fraud_destination_blocked"),
  fraud_premium_not_enabled: () => t("reason.fraud_premium_not_enabled"),
  fraud_concurrency_limit: () => t("reason.fraud_concurrency_limit"),
  fraud_call_rate_limit: () => t("reason.fraud_call_rate_limit"),
  fraud_spend_limit: () => t("reason.fraud_spend_limit"),
  fraud_country_not_approved: () => t("reason.fraud_country_not_approved"),
  fraud_test_call_pattern: () => t("reason.fraud_test_call_pattern"),
  fraud_duration_cap: () => t("reason.fraud_duration_cap"),
  fraud_dialout_suspended: () => t("reason.fraud_dialout_suspended"),
};

export function reason(code) {
  return REASONS[code] ? REASONS[code]() : t("reason.other", { code });
}

const GUARD_MODES = {
  off: () => t("fraud.mode_off"),
  monitor: () => t("fraud.mode_monitor"),
  enforce: () => t("fraud.mode_enforce"),
};

export const GUARD_MODE_IDS = Object.keys(GUARD_MODES);

export function guardMode(id) {
  return GUARD_MODES[id] ? GUARD_MODES[id]() : id;
}

const FRAUD_EVENTS = {
  "fraud.alert": () => t("fraud.event_alert"),
  "fraud.new_country": () => t("fraud.event_new_country"),
  "fraud.suspended": () => t("fraud.event_suspended"),
  "fraud.lifted": () => t("fraud.event_lifted"),
};

export function fraudEvent(type) {
  return FRAUD_EVENTS[type] ? FRAUD_EVENTS[type]() : type;
}

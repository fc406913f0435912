//! What the OpenAPI document says about each input, made exact: the grammar of every
//! identifier (`minutely_core::ident`), the enums, ranges and patterns the handlers check, and
//! which query parameters are required. A request the document calls valid is never refused as
//! malformed (400); what only the charging rules can refuse (an unknown policy, a number outside
//! its numbering plan, a range too long, a license already assigned) is 422, and an unknown item
//! is 404. The rules are kept here, by parameter and field name, so that one identifier has one
//! grammar on every operation.

use minutely_core::ident::{
    CALL_ID_PATTERN, CONFERENCE_ID_PATTERN, REFERENCE_PATTERN, TENANT_ID_PATTERN, UPN_PATTERN,
};
use minutely_core::money::{Currency, MAX_AMOUNT, MAX_LICENSE_COUNT};
use serde_json::{Map, Value, json};

/// The server's page limit unless configured otherwise (`Config::max_page`).
pub const DEFAULT_MAX_PAGE: usize = 1_000;

/// The licenses (SKU part numbers) a tenant can buy and assign.
pub const SKUS: [&str; 4] = [
    "MCOMEETADD",
    "MCOMEETACPEA",
    "MCOPSTNPP",
    "MCOMEETADD_DIALOUT_US",
];

/// The five languages of messages, statements and the console.
pub const LANGS: [&str; 5] = ["en", "ja", "zh-CN", "fr", "de"];

/// A character that is not white space as the server trims it (Unicode `White_Space`; a
/// pattern's `\s` is ECMAScript's, another set).
const NOT_BLANK: &str =
    "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// `YYYY-MM`.
pub const MONTH_PATTERN: &str = "^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$";

/// A real calendar date from 1970 to 2999: the days each month has, 29 February in leap years
/// only (the server reads every real date, and answers them in its own instants).
const DATE: &str = "(((19[7-9][0-9]|2[0-9]{3})-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8])))|(19(7[26]|8[048]|9[26])|2[0-9](0[48]|[2468][048]|[13579][26])|2000|2400)-02-29)";

/// A time of day with seconds, an optional fraction and an offset.
const TIME: &str =
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-7]):[0-5][0-9])";

/// An RFC 3339 instant.
pub fn instant_pattern() -> String {
    format!("^{DATE}{TIME}$")
}

/// A date (`YYYY-MM-DD`) or an RFC 3339 instant.
pub fn date_or_instant_pattern() -> String {
    format!("^{DATE}({TIME})?$")
}

/// A plain decimal of at most `integer_digits` digits before the point (no sign, no exponent).
fn decimal_pattern(integer_digits: usize, fraction_digits: usize) -> String {
    format!("^[0-9]{{1,{integer_digits}}}(\\.[0-9]{{1,{fraction_digits}}})?$")
}

/// Every ISO 4217 code with a minor unit, the currencies the server knows.
pub fn currency_codes() -> Vec<String> {
    let mut codes = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for c in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b, c]).expect("ASCII");
                if Currency::parse(&code).is_ok() {
                    codes.push(code);
                }
            }
        }
    }
    codes
}

/// Digits before the point of the largest value of a bound (1e12 has 13).
fn digits_of(max: rust_decimal::Decimal) -> usize {
    max.trunc().to_string().len()
}

/// The schema of a path or query parameter, by operation path and name.
fn parameter_schema(path: &str, name: &str, max_page: usize) -> Option<Value> {
    let reports = path.contains("/reports/");
    Some(match name {
        "tenant" => json!({"type": "string", "pattern": TENANT_ID_PATTERN}),
        "call_id" => json!({"type": "string", "pattern": CALL_ID_PATTERN}),
        // A path segment is checked by tools as they send it, percent-encoded: its `@` may be
        // `%40` there (the server reads the decoded segment).
        "upn" => json!({
            "type": "string",
            "pattern": UPN_PATTERN.replacen('@', "(?:@|%40)", 1),
            "maxLength": 256,
        }),
        "sku" => json!({"type": "string", "enum": SKUS}),
        "currency" => json!({"type": "string", "enum": currency_codes()}),
        // Blank: the default (`Accept-Language`); the server trims the value.
        "lang" => {
            let tags: Vec<String> = LANGS.iter().map(|tag| any_case(tag)).collect();
            json!({"type": "string", "pattern": trimmed(&format!("({})?", tags.join("|")))})
        }
        "kind" => {
            json!({"type": "string", "enum": ["dial_out", "dial_in_toll", "dial_in_toll_free"]})
        }
        // Empty or `*`: any origin.
        "origin" => json!({"type": "string", "pattern": "^([A-Za-z]{2}|\\*)?$"}),
        "format" => json!({"type": "string", "pattern": trimmed("(json|html|pdf)?")}),
        // An empty `month` of the pool report is the current month.
        "month" if reports => {
            let month = MONTH_PATTERN.trim_start_matches('^').trim_end_matches('$');
            json!({"type": "string", "pattern": trimmed(&format!("({month})?"))})
        }
        "month" => json!({"type": "string", "pattern": MONTH_PATTERN}),
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": max_page}),
        "from" | "to" if path.ends_with("/advice") => {
            json!({"type": "string", "pattern": MONTH_PATTERN})
        }
        "from" | "to" if reports => {
            json!({"type": "string", "pattern": date_or_instant_pattern()})
        }
        "from" | "to" | "at" => json!({"type": "string", "pattern": instant_pattern()}),
        "after" => after_schema(path),
        _ => return None,
    })
}

/// A page cursor: a sequence number, or what the list's `next` holds.
fn after_schema(path: &str) -> Value {
    let sequence = ["/audit", "/ledger", "/events", "/incidents"];
    let pattern = if sequence.iter().any(|end| path.ends_with(end)) {
        "^[0-9]{0,19}$"
    } else if path.ends_with("/wallet/lots") {
        // `<funded_at in nanoseconds>_<lot id>`.
        "^([0-9]{1,19}_[0-9]{1,19})?$"
    } else if path.ends_with("/reports/refused") {
        // `<start in nanoseconds>_<call id in hexadecimal>`.
        "^[0-9]{1,19}_(3[0-9]|4[1-9a-f]|5[0-9a]|6[1-9a-f]|7[0-9a]){1,128}$"
    } else if path.ends_with("/numbers") {
        "^\\+[1-9][0-9]{1,14}$"
    } else {
        // An id of the list (a user, tenant, key or endpoint); an unknown one is 404.
        return json!({"type": "string", "maxLength": crate::api::types::MAX_FIELD});
    };
    json!({"type": "string", "pattern": pattern})
}

/// Query parameters an operation refuses to go without.
fn required_query(path: &str, name: &str) -> bool {
    let ranged = [
        "/reports/refused",
        "/reports/pstn-usage",
        "/reports/dial-out-usage",
        "/reports/usage-summary",
        "/advice",
    ];
    matches!(name, "from" | "to") && ranged.iter().any(|end| path.ends_with(end))
}

/// Patches merged into body fields, by schema name and property.
fn field_patches() -> Vec<(&'static str, &'static str, Value)> {
    // At most 28 significant digits, what an amount holds exactly.
    let amount = decimal_pattern(digits_of(MAX_AMOUNT), 28 - digits_of(MAX_AMOUNT));
    let price_digits = digits_below(minutely_core::advisor::MAX_PRICE);
    let price = decimal_pattern(price_digits, 28 - price_digits);
    let direction = json!({"enum": ["dial_in", "dial_out"]});
    // Anything that could be a user: no control or format character, no formula sign first;
    // empty for a call without one (refused by the charging rules, C38).
    let organizer = json!({"pattern": optional(&REFERENCE_PATTERN.replace("{0,127}", "{0,255}"))});
    let call = json!({"pattern": CALL_ID_PATTERN});
    let conference = json!({"pattern": optional(CONFERENCE_ID_PATTERN)});
    let instant = json!({"pattern": instant_pattern()});
    let number = json!({"maxLength": crate::api::types::MAX_FIELD});
    let mut patches = vec![
        ("AuthorizeRequest", "conference_id", conference.clone()),
        ("CallRecordJson", "conference_id", conference),
        ("ControlCommand", "call_id", call.clone()),
        (
            "CreateTenantRequest",
            "agreement",
            json!({"enum": ["volume_licensing", "online_subscription", "post_usage", "reseller"]}),
        ),
        // Not blank.
        (
            "CreateTenantRequest",
            "name",
            json!({"pattern": NOT_BLANK, "maxLength": crate::api::types::MAX_FIELD}),
        ),
        (
            "CreateTenantRequest",
            "timezone",
            json!({"minLength": 1, "maxLength": crate::api::types::MAX_FIELD}),
        ),
        ("AssignRequest", "sku", json!({"enum": SKUS})),
        (
            "AddNumberRequest",
            "kind",
            json!({"enum": ["toll", "toll_free"]}),
        ),
        ("AuthorizeRequest", "direction", direction.clone()),
        ("AuthorizeRequest", "start", instant.clone()),
        ("CallRecordJson", "direction", direction.clone()),
        ("CallRecordJson", "call_id", call.clone()),
        ("CallRecordJson", "start", instant.clone()),
        ("CallRecordJson", "end", instant.clone()),
        ("EndRequest", "end", instant.clone()),
        ("EndRequest", "answered_at", instant.clone()),
        ("ExtendRequest", "answered_at", instant.clone()),
        ("AnswerRequest", "answered_at", instant.clone()),
        ("ProxyRecordJson", "call_id", call.clone()),
        ("ProxyRecordJson", "answered_at", instant.clone()),
        (
            "ProxyRecordJson",
            "tenant",
            json!({"pattern": TENANT_ID_PATTERN}),
        ),
        (
            "AuthorizeRequest",
            "tenant",
            json!({"pattern": TENANT_ID_PATTERN}),
        ),
        ("SimulateRequest", "direction", direction),
        ("SimulateRequest", "organizer", organizer.clone()),
        ("AuthorizeRequest", "organizer", organizer.clone()),
        ("CallRecordJson", "organizer", organizer),
        ("FundingRequest", "amount", json!({"pattern": amount})),
        (
            "FundingRequest",
            "reference",
            json!({"pattern": REFERENCE_PATTERN}),
        ),
        ("AutoRechargeRequest", "amount", json!({"pattern": amount})),
        ("AutoRechargeRequest", "trigger", json!({"pattern": amount})),
        ("PreferencesRequest", "lang", json!({"enum": LANGS})),
        (
            "CreateKeyRequest",
            "kind",
            json!({"enum": ["operator", "tenant_admin", "bridge", "edge"]}),
        ),
        (
            "CreateKeyRequest",
            "tenant",
            json!({"pattern": TENANT_ID_PATTERN}),
        ),
        ("CreateKeyRequest", "label", json!({"maxLength": 256})),
        (
            "CreateTenantRequest",
            "id",
            json!({"pattern": TENANT_ID_PATTERN}),
        ),
        (
            "CreateTenantRequest",
            "currency",
            json!({"enum": currency_codes()}),
        ),
        (
            "CreateTenantRequest",
            "country",
            json!({"pattern": "^[A-Za-z]{2}$"}),
        ),
        (
            "PutUserRequest",
            "usage_location",
            json!({"pattern": "^[A-Za-z]{2}$"}),
        ),
        (
            "SetPurchasedRequest",
            "count",
            json!({"maximum": MAX_LICENSE_COUNT}),
        ),
        ("SetPurchasedRequest", "from", instant.clone()),
        ("RerateRequest", "from", instant.clone()),
        ("RerateRequest", "to", instant),
        (
            "CallRecordJson",
            "tenant",
            json!({"pattern": TENANT_ID_PATTERN}),
        ),
        (
            "CreateEndpointRequest",
            "url",
            json!({
                // A path is required, and takes every sub-delimiter, so that what follows the
                // host is never taken for part of it.
                "pattern": "^https?://[a-z][a-z0-9-]{0,62}(\\.[a-z][a-z0-9-]{0,62}){0,3}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~!$&'()*+,;=:@-]*)+$",
                "maxLength": 2048,
            }),
        ),
    ];
    for schema in ["AuthorizeRequest", "CallRecordJson", "SimulateRequest"] {
        for field in ["service_number", "caller_number", "destination_number"] {
            patches.push((schema, field, number.clone()));
        }
    }
    patches.push((
        "WalletSettingsRequest",
        "low_balance_thresholds",
        json!({"items": {"type": "string", "pattern": amount}, "maxItems": 2}),
    ));
    patches.push((
        "PricesBody",
        "prices",
        json!({
            "additionalProperties": {"type": "string", "pattern": price},
            "propertyNames": {"type": "string", "enum": SKUS},
        }),
    ));
    patches
}

/// A pattern of `text` in any ASCII case (`en` gives `[eE][nN]`).
fn any_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `inner` with blanks around it, which the server trims.
fn trimmed(inner: &str) -> String {
    format!("^[ \\t\\r\\n]*{inner}[ \\t\\r\\n]*$")
}

/// A pattern that also takes the empty string.
fn optional(pattern: &str) -> String {
    let inner = pattern.trim_start_matches('^').trim_end_matches('$');
    format!("^(?:{inner})?$")
}

/// Digits before the point of any value below `max`, a power of ten (1e6 gives 6).
fn digits_below(max: rust_decimal::Decimal) -> usize {
    digits_of(max) - 1
}

/// Applies the rules to the document (as JSON).
pub fn refine(document: &mut Value, max_page: usize) {
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                refine_parameters(path, operation, max_page);
                refine_body(operation);
                refine_text_body(path, operation);
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    // A command's fields are only those of its kind (`deny_unknown_fields`).
    if let Some(alternatives) = schemas
        .get_mut("ControlCommand")
        .and_then(|s| s.get_mut("oneOf"))
        .and_then(Value::as_array_mut)
    {
        for alternative in alternatives.iter_mut().filter_map(Value::as_object_mut) {
            alternative.insert("additionalProperties".into(), json!(false));
        }
    }
    for (schema, property, patch) in field_patches() {
        let Some(schema) = schemas.get_mut(schema) else {
            continue;
        };
        let pointer = format!("/properties/{property}");
        // A tagged enum's fields are in each of its alternatives.
        let targets: Vec<&mut Value> = if schema.get("oneOf").is_some() {
            schema["oneOf"]
                .as_array_mut()
                .map(|a| a.iter_mut().collect())
                .unwrap_or_default()
        } else {
            vec![schema]
        };
        for target in targets {
            if let Some(target) = target.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                merge(target, patch.clone());
            }
        }
    }
}

fn refine_parameters(path: &str, operation: &mut Value, max_page: usize) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut paged = false;
    let mut ranged = false;
    for parameter in parameters {
        let Some(parameter) = parameter.as_object_mut() else {
            continue;
        };
        let name = parameter["name"].as_str().unwrap_or_default().to_string();
        let location = parameter["in"].as_str().unwrap_or_default().to_string();
        if location == "path" && name == "limit" {
            parameter.insert("in".into(), json!("query"));
            parameter.insert("required".into(), json!(false));
        }
        if let Some(schema) = parameter_schema(path, &name, max_page) {
            parameter.insert("schema".into(), schema);
        }
        if location == "query" && required_query(path, &name) {
            parameter.insert("required".into(), json!(true));
        }
        paged |= name == "after";
        ranged |= matches!(name.as_str(), "from" | "to")
            && (path.contains("/reports/") || path.ends_with("/advice"));
    }
    // A cursor naming an item the list does not hold (any more) is 404.
    if paged
        && let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
    {
        responses
            .entry("404")
            .or_insert_with(|| json!({"$ref": "#/components/responses/NotFound"}));
    }
    if ranged
        && let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
    {
        responses.entry("422").or_insert_with(|| {
            json!({
                "description": "Well-formed bounds that make no range: `to` before `from`, or \
                                longer than the operation allows (`unprocessable_request`)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            })
        });
    }
}

/// An optional body is an object or nothing: `null` is not a body (the document said it was).
fn refine_body(operation: &mut Value) {
    let Some(content) = operation
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for media in content.values_mut() {
        let Some(schema) = media.get_mut("schema") else {
            continue;
        };
        let object = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .and_then(|alternatives| {
                let rest: Vec<&Value> = alternatives
                    .iter()
                    .filter(|a| a.get("type") != Some(&json!("null")))
                    .collect();
                (rest.len() == 1 && rest.len() < alternatives.len()).then(|| rest[0].clone())
            });
        if let Some(object) = object {
            *schema = object;
        }
    }
}

/// A file body: a CSV file starts with its header line, a tenant file is not empty. What is
/// wrong past the header (a bad row, a bad field) is unprocessable (422), not malformed.
fn refine_text_body(path: &str, operation: &mut Value) {
    let Some(content) = operation
        .pointer_mut("/requestBody/content")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let header = |fields: &[&str]| json!({"type": "string", "pattern": format!("^{}(\\r?\\n|$)", fields.join(","))});
    let schema = if path == "/v1/countries" {
        header(&minutely_formats::countries::HEADER)
    } else if path == "/v1/rate-cards/{currency}" {
        header(&minutely_formats::ratecard::HEADER)
    } else if path.ends_with("/file") {
        json!({"type": "string", "minLength": 1})
    } else {
        return;
    };
    for (media, body) in content.iter_mut() {
        if let Some(body) = body.as_object_mut().filter(|_| media != "application/json") {
            body.insert("schema".into(), schema.clone());
        }
    }
}

/// Merges `patch` into a property schema; a nullable property stays nullable.
fn merge(target: &mut Map<String, Value>, patch: Value) {
    let Value::Object(patch) = patch else { return };
    for (key, value) in patch {
        target.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_page_limit_is_the_default_one() {
        let config = crate::app::Config::new("x.db".into(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.max_page, DEFAULT_MAX_PAGE);
    }

    #[test]
    fn the_currency_enum_holds_the_iso_codes_with_a_minor_unit() {
        let codes = currency_codes();
        assert!(codes.iter().any(|c| c == "EUR") && codes.iter().any(|c| c == "JPY"));
        assert!(!codes.iter().any(|c| c == "XAU" || c == "ABC"));
    }
}

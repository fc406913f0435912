//! The steps of `minutely_core::explain` in words, in the five languages. The numbers are the
//! core's, written the same way in every language (instants in UTC ISO 8601, amounts in the
//! currency's minor units, exact decimals in full); only the words change.

use super::Lang;
use crate::api::types::{instant, money, origin_text};
use minutely_core::explain::{RatePlace, Step};
use minutely_core::money::Currency;
use rust_decimal::{Decimal, RoundingStrategy};

/// One text per language, indexed by [`Lang::index`]: en, ja, zh-CN, fr, de.
type Texts = [&'static str; 5];

const DURATION: Texts = [
    "duration = {end} − {start} = {d} s (whole seconds, rounded down)",
    "通話時間 = {end} − {start} = {d} 秒（秒単位、切り捨て）",
    "通话时长 = {end} − {start} = {d} 秒（整秒，向下取整）",
    "durée = {end} − {start} = {d} s (secondes entières, arrondi à l’inférieur)",
    "Dauer = {end} − {start} = {d} s (ganze Sekunden, abgerundet)",
];
const INCLUDED: Texts = [
    "the organizer holds MCOMEETADD: a toll dial-in is included in the subscription; charge 0",
    "開催者は MCOMEETADD を保有しています: 有料ダイヤルインはサブスクリプションに含まれます。請求額 0",
    "组织者持有 MCOMEETADD：收费拨入包含在订阅中；费用 0",
    "l’organisateur détient MCOMEETADD : l’appel entrant payant est inclus dans l’abonnement ; montant 0",
    "der Organisator hat MCOMEETADD: die gebührenpflichtige Einwahl ist im Abonnement enthalten; Betrag 0",
];
const ADD_ON: Texts = [
    "the organizer holds MCOMEETADD_DIALOUT_US and the destination country is {country}: the \
     add-on pays; charge 0, no pool use",
    "開催者は MCOMEETADD_DIALOUT_US を保有し、発信先の国は {country} です: アドオンが支払います。請求額 0、プールは使用しません",
    "组织者持有 MCOMEETADD_DIALOUT_US，目的地国家为 {country}：由附加许可证支付；费用 0，不使用分钟池",
    "l’organisateur détient MCOMEETADD_DIALOUT_US et le pays de destination est {country} : le \
     module complémentaire paie ; montant 0, sans utiliser le forfait de minutes",
    "der Organisator hat MCOMEETADD_DIALOUT_US und das Zielland ist {country}: die Zusatzlizenz \
     zahlt; Betrag 0, ohne Nutzung des Minutenkontingents",
];
const POOL: Texts = [
    "the dial-out minute pool pays: ceil({d} / 60) = {m} min (C21), within what the pool had \
     left; charge 0",
    "ダイヤルアウトの分数プールが支払います: ceil({d} / 60) = {m} 分（C21）、プールの残りの範囲内。請求額 0",
    "拨出分钟池支付：ceil({d} / 60) = {m} 分钟（C21），在分钟池剩余额度之内；费用 0",
    "le forfait de minutes des appels sortants paie : ceil({d} / 60) = {m} min (C21), dans la \
     limite de ce qui restait ; montant 0",
    "das Dial-Out-Minutenkontingent zahlt: ceil({d} / 60) = {m} min (C21), im Rahmen des \
     Restkontingents; Betrag 0",
];
const POOL_THEN_CREDITS: Texts = [
    "the pool had {r} min left, fewer than ceil({d} / 60) = {m} min: it pays its {r} min and \
     credits pay the rest at the {category} rate (capability {cap})",
    "プールの残りは {r} 分で、ceil({d} / 60) = {m} 分に足りません: プールが {r} 分を支払い、残りは {category} の料金で通信クレジットが支払います（機能 {cap}）",
    "分钟池仅剩 {r} 分钟，少于 ceil({d} / 60) = {m} 分钟：分钟池支付 {r} 分钟，其余按 {category} 费率由通信点数支付（功能 {cap}）",
    "il restait {r} min au forfait, moins que ceil({d} / 60) = {m} min : il paie ses {r} min et \
     les crédits paient le reste au tarif {category} (capacité {cap})",
    "im Kontingent waren noch {r} min, weniger als ceil({d} / 60) = {m} min: es zahlt seine {r} \
     min, das Kommunikationsguthaben den Rest zum Tarif {category} (Funktion {cap})",
];
const SUBSCRIPTION_CREDITS: Texts = [
    "the organizer holds MCOMEETADD and MCOPSTNPP: credits pay at the {category} rate \
     (capability {cap})",
    "開催者は MCOMEETADD と MCOPSTNPP を保有しています: 通信クレジットが {category} の料金で支払います（機能 {cap}）",
    "组织者持有 MCOMEETADD 和 MCOPSTNPP：通信点数按 {category} 费率支付（功能 {cap}）",
    "l’organisateur détient MCOMEETADD et MCOPSTNPP : les crédits paient au tarif {category} \
     (capacité {cap})",
    "der Organisator hat MCOMEETADD und MCOPSTNPP: das Kommunikationsguthaben zahlt zum Tarif \
     {category} (Funktion {cap})",
];
const PAY_PER_MINUTE_CREDITS: Texts = [
    "the organizer pays per minute (MCOMEETACPEA): the tenant's credits pay at the {category} \
     rate (capability {cap})",
    "開催者は分単位課金です（MCOMEETACPEA）: テナントの通信クレジットが {category} の料金で支払います（機能 {cap}）",
    "组织者按分钟付费（MCOMEETACPEA）：租户的通信点数按 {category} 费率支付（功能 {cap}）",
    "l’organisateur paie à la minute (MCOMEETACPEA) : les crédits du locataire paient au tarif \
     {category} (capacité {cap})",
    "der Organisator zahlt pro Minute (MCOMEETACPEA): das Kommunikationsguthaben des Mandanten \
     zahlt zum Tarif {category} (Funktion {cap})",
];
const RATE: Texts = [
    "rate {name}{place}, {country}{premium}: {rpm} per minute, increments {f}/{i} s, version \
     effective from {from}",
    "料金 {name}{place}、{country}{premium}: 毎分 {rpm}、課金単位 {f}/{i} 秒、{from} から有効な版",
    "费率 {name}{place}，{country}{premium}：每分钟 {rpm}，计费增量 {f}/{i} 秒，自 {from} 起生效的版本",
    "tarif {name}{place}, {country}{premium} : {rpm} par minute, paliers {f}/{i} s, version en \
     vigueur depuis {from}",
    "Tarif {name}{place}, {country}{premium}: {rpm} pro Minute, Takt {f}/{i} s, Version gültig \
     ab {from}",
];
const RATE_ORIGIN: Texts = [
    " from {o}",
    "、発信元 {o}",
    "，来源 {o}",
    " depuis {o}",
    " aus {o}",
];
const PREMIUM: Texts = [
    ", premium",
    "、プレミアム",
    "，高价",
    ", surtaxé",
    ", Sondertarif",
];
const ZERO_DURATION: Texts = [
    "d = 0: 0 s billable (C6); a call of duration 0 costs nothing and makes no ledger entry",
    "d = 0: 課金対象 0 秒（C6）。通話時間 0 の通話は無料で、仕訳は作成されません",
    "d = 0：计费 0 秒（C6）；时长为 0 的通话不收费，也不产生账目分录",
    "d = 0 : 0 s facturable (C6) ; un appel de durée 0 ne coûte rien et ne crée aucune écriture",
    "d = 0: 0 s abrechenbar (C6); ein Anruf der Dauer 0 kostet nichts und erzeugt keine Buchung",
];
const BILLABLE_FIRST_BLOCK: Texts = [
    "d = {d} ≤ {f}: {b} s billable",
    "d = {d} ≤ {f}: 課金対象 {b} 秒",
    "d = {d} ≤ {f}：计费 {b} 秒",
    "d = {d} ≤ {f} : {b} s facturables",
    "d = {d} ≤ {f}: {b} s abrechenbar",
];
const BILLABLE_INCREMENTS: Texts = [
    "{f} + ceil(({d} − {f}) / {i}) × {i} = {b} s billable",
    "{f} + ceil(({d} − {f}) / {i}) × {i} = 課金対象 {b} 秒",
    "{f} + ceil(({d} − {f}) / {i}) × {i} = 计费 {b} 秒",
    "{f} + ceil(({d} − {f}) / {i}) × {i} = {b} s facturables",
    "{f} + ceil(({d} − {f}) / {i}) × {i} = {b} s abrechenbar",
];
const CREDIT_COST: Texts = [
    "{fee}{rpm} × {b} / 60 = {exact} → {rounded} (exact, rounded once to the minor unit, half \
     away from zero)",
    "{fee}{rpm} × {b} / 60 = {exact} → {rounded}（正確に計算し、最小通貨単位へ一度だけ四捨五入）",
    "{fee}{rpm} × {b} / 60 = {exact} → {rounded}（精确计算，只在最小货币单位上四舍五入一次）",
    "{fee}{rpm} × {b} / 60 = {exact} → {rounded} (valeur exacte, arrondie une seule fois à la \
     plus petite unité monétaire, demi vers l’extérieur)",
    "{fee}{rpm} × {b} / 60 = {exact} → {rounded} (exakt, einmal auf die kleinste \
     Währungseinheit gerundet, kaufmännisch)",
];
const SPLIT_COST: Texts = [
    "credits pay {b} − 60 × {p} = {s} s{no_fee}: {rpm} × {s} / 60 = {exact} → {rounded} \
     (rounded once, C7)",
    "通信クレジットの支払い {b} − 60 × {p} = {s} 秒{no_fee}: {rpm} × {s} / 60 = {exact} → {rounded}（一度だけ丸め、C7）",
    "通信点数支付 {b} − 60 × {p} = {s} 秒{no_fee}：{rpm} × {s} / 60 = {exact} → {rounded}（只舍入一次，C7）",
    "les crédits paient {b} − 60 × {p} = {s} s{no_fee} : {rpm} × {s} / 60 = {exact} → \
     {rounded} (arrondi une seule fois, C7)",
    "das Guthaben zahlt {b} − 60 × {p} = {s} s{no_fee}: {rpm} × {s} / 60 = {exact} → \
     {rounded} (einmal gerundet, C7)",
];
const NO_FEE: Texts = [
    ", no connection fee",
    "、接続料なし",
    "，不收连接费",
    ", sans frais de connexion",
    ", ohne Verbindungsgebühr",
];
const NOTHING_DEBITED: Texts = [
    "nothing was debited",
    "何も引き落とされませんでした",
    "未扣款",
    "rien n’a été débité",
    "nichts wurde abgebucht",
];
const DRAINED: Texts = [
    "{amount} debited, oldest lot first: {lots}",
    "{amount} を引き落とし、古いロットから順に: {lots}",
    "扣款 {amount}，先扣最早的批次：{lots}",
    "{amount} débités, le lot le plus ancien d’abord : {lots}",
    "{amount} abgebucht, älteste Tranche zuerst: {lots}",
];
const LOT_TAKE: Texts = [
    "lot {lot}: {amount}",
    "ロット {lot}: {amount}",
    "批次 {lot}：{amount}",
    "lot {lot} : {amount}",
    "Tranche {lot}: {amount}",
];
const LIST_SEPARATOR: Texts = [", ", "、", "，", ", ", ", "];
const TO_DEBT: Texts = [
    "{amount} went to debt (the call had already happened)",
    "{amount} は負債になりました（通話は既に行われていたため）",
    "{amount} 计入欠款（通话已经发生）",
    "{amount} est passé en dette (l’appel avait déjà eu lieu)",
    "{amount} wurde zur Schuld (der Anruf hatte bereits stattgefunden)",
];
const BALANCE_AFTER: Texts = [
    "balance after this call: {balance}",
    "この通話後の残高: {balance}",
    "本次通话后的余额：{balance}",
    "solde après cet appel : {balance}",
    "Saldo nach diesem Anruf: {balance}",
];
const RECHARGED: Texts = [
    "the balance fell below the auto-recharge trigger: lot {lot} was funded",
    "残高が自動チャージのしきい値を下回りました: ロット {lot} が入金されました",
    "余额低于自动充值阈值：已为批次 {lot} 充值",
    "le solde est passé sous le seuil de recharge automatique : le lot {lot} a été approvisionné",
    "der Saldo fiel unter die Schwelle der automatischen Aufladung: Tranche {lot} wurde \
     aufgeladen",
];
const REFUSED: Texts = [
    "refused, {code}: {why}",
    "拒否、{code}: {why}",
    "已拒绝，{code}：{why}",
    "refusé, {code} : {why}",
    "abgelehnt, {code}: {why}",
];
const AUTHORIZED: Texts = [
    "authorized for {start}: funding {funding}; {credit} and {p} pool min held for {granted}",
    "{start} の通話として承認: 支払い元 {funding}。{credit} とプール {p} 分を{granted}確保",
    "已授权 {start} 的通话：支付方式 {funding}；为{granted}保留 {credit} 和分钟池 {p} 分钟",
    "autorisé pour {start} : financement {funding} ; {credit} et {p} min du forfait réservés \
     pour {granted}",
    "autorisiert für {start}: Finanzierung {funding}; {credit} und {p} Kontingentminuten \
     reserviert für {granted}",
];
const UNLIMITED: Texts = [
    "an unlimited time",
    "無期限に",
    "无限时间",
    "une durée illimitée",
    "unbegrenzte Zeit",
];
const GRANTED: Texts = [
    "{s} s from the start",
    "開始から {s} 秒間",
    "自开始起 {s} 秒",
    "{s} s depuis le début",
    "{s} s ab Beginn",
];
const AVAILABLE: Texts = [
    "available now = balance {balance} − reservations = {available}",
    "現在の利用可能額 = 残高 {balance} − 予約 = {available}",
    "当前可用 = 余额 {balance} − 预留 = {available}",
    "disponible maintenant = solde {balance} − réservations = {available}",
    "jetzt verfügbar = Saldo {balance} − Reservierungen = {available}",
];
const HOLD_LAPSES: Texts = [
    "the hold lapses at {at} unless the call is extended or ended; the end report rates the \
     call and debits it",
    "通話が延長または終了されない限り、確保は {at} に失効します。終了報告で通話が評価され引き落とされます",
    "除非通话被延长或结束，预留将于 {at} 失效；结束报告会对通话计费并扣款",
    "la réservation expire à {at} sauf si l’appel est prolongé ou terminé ; le rapport de fin \
     tarife l’appel et le débite",
    "die Reservierung verfällt um {at}, sofern der Anruf nicht verlängert oder beendet wird; die \
     Endmeldung bewertet den Anruf und bucht ihn ab",
];
const HOLD_LAPSED: Texts = [
    "the hold lapsed without an end report; its funds returned, and a late end report is still \
     rated and debited (C13)",
    "終了報告がないまま確保が失効しました。確保額は戻り、遅れて届いた終了報告も評価され引き落とされます（C13）",
    "预留在没有结束报告的情况下失效；预留资金已退回，迟到的结束报告仍会计费并扣款（C13）",
    "la réservation a expiré sans rapport de fin ; ses fonds sont revenus, et un rapport de fin \
     tardif est encore tarifé et débité (C13)",
    "die Reservierung ist ohne Endmeldung verfallen; ihre Mittel wurden freigegeben, und eine \
     verspätete Endmeldung wird dennoch bewertet und abgebucht (C13)",
];

/// `texts` in `lang` with each `{name}` replaced by its value, in one pass: a value (a rate's
/// name comes from the operator's card) is never read as a placeholder.
fn fill(texts: &Texts, lang: Lang, args: &[(&str, String)]) -> String {
    let template = texts[lang.index()];
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            let (_, value) = args.iter().find(|(n, _)| *n == name)?;
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An exact decimal for display: all its digits, or ten after the point and an ellipsis.
fn exact(d: Decimal) -> String {
    let n = d.normalize();
    if n.scale() > 10 {
        format!(
            "{}…",
            n.round_dp_with_strategy(10, RoundingStrategy::ToZero)
        )
    } else {
        n.to_string()
    }
}

/// The text of one step in `lang`; amounts in `currency`.
pub fn step_text(step: &Step, lang: Lang, currency: Currency) -> String {
    match step {
        Step::Duration {
            start,
            end,
            duration_s,
        } => fill(
            &DURATION,
            lang,
            &[
                ("end", instant(*end)),
                ("start", instant(*start)),
                ("d", duration_s.to_string()),
            ],
        ),
        Step::Included => fill(&INCLUDED, lang, &[]),
        Step::AddOn { country } => fill(
            &ADD_ON,
            lang,
            &[("country", country.as_deref().unwrap_or("US/CA").to_string())],
        ),
        Step::Pool {
            duration_s,
            pool_minutes,
        } => fill(
            &POOL,
            lang,
            &[
                ("d", duration_s.to_string()),
                ("m", pool_minutes.to_string()),
            ],
        ),
        Step::PoolThenCredits { .. }
        | Step::SubscriptionCredits { .. }
        | Step::PayPerMinuteCredits { .. } => credits_text(step, lang),
        Step::Rate { rate, place } => rate_text(rate, place.as_ref(), lang),
        Step::ZeroDuration => fill(&ZERO_DURATION, lang, &[]),
        Step::Billable { .. } | Step::CreditCost { .. } | Step::SplitCost { .. } => {
            arithmetic_text(step, lang, currency)
        }
        Step::NothingDebited => fill(&NOTHING_DEBITED, lang, &[]),
        Step::Drained { .. }
        | Step::ToDebt { .. }
        | Step::BalanceAfter { .. }
        | Step::Recharged { .. }
        | Step::Refused { .. } => wallet_text(step, lang, currency),
        Step::Authorized { .. }
        | Step::Available { .. }
        | Step::HoldLapses { .. }
        | Step::HoldLapsed => reservation_text(step, lang, currency),
    }
}

/// The wallet's part (C10, C13, C24, C34) and a refusal.
fn wallet_text(step: &Step, lang: Lang, currency: Currency) -> String {
    let m = |amount: Decimal| money(currency, amount);
    match step {
        Step::Drained { amount, lots } => {
            let lots: Vec<String> = lots
                .iter()
                .map(|(lot, a)| {
                    fill(
                        &LOT_TAKE,
                        lang,
                        &[("lot", lot.to_string()), ("amount", m(*a))],
                    )
                })
                .collect();
            let lots = lots.join(LIST_SEPARATOR[lang.index()]);
            fill(&DRAINED, lang, &[("amount", m(*amount)), ("lots", lots)])
        }
        Step::ToDebt { amount } => fill(&TO_DEBT, lang, &[("amount", m(*amount))]),
        Step::BalanceAfter { balance } => fill(&BALANCE_AFTER, lang, &[("balance", m(*balance))]),
        Step::Recharged { lot } => fill(&RECHARGED, lang, &[("lot", lot.to_string())]),
        Step::Refused { reason } => {
            // English keeps the rule book's own sentence; the others the reason's message.
            let why = match lang {
                Lang::En => reason.describe(),
                _ => super::message(reason.code(), lang),
            };
            fill(
                &REFUSED,
                lang,
                &[
                    ("code", reason.code().to_string()),
                    ("why", why.to_string()),
                ],
            )
        }
        _ => unreachable!("wallet_text is called for wallet steps and refusals only"),
    }
}

/// Who pays with credits (C19, C32, a pay-per-minute organizer).
fn credits_text(step: &Step, lang: Lang) -> String {
    match step {
        Step::PoolThenCredits {
            pool_minutes,
            duration_s,
            minutes,
            category,
            capability,
        } => fill(
            &POOL_THEN_CREDITS,
            lang,
            &[
                ("r", pool_minutes.to_string()),
                ("d", duration_s.to_string()),
                ("m", minutes.to_string()),
                ("category", category.as_str().to_string()),
                ("cap", capability.code().to_string()),
            ],
        ),
        Step::SubscriptionCredits {
            category,
            capability,
        } => fill(
            &SUBSCRIPTION_CREDITS,
            lang,
            &[
                ("category", category.as_str().to_string()),
                ("cap", capability.code().to_string()),
            ],
        ),
        Step::PayPerMinuteCredits {
            category,
            capability,
            ..
        } => fill(
            &PAY_PER_MINUTE_CREDITS,
            lang,
            &[
                ("category", category.as_str().to_string()),
                ("cap", capability.code().to_string()),
            ],
        ),
        _ => unreachable!("credits_text is called for credit steps only"),
    }
}

/// C36: the rate and where it sits in the card.
fn rate_text(
    rate: &minutely_core::engine::AppliedRate,
    place: Option<&RatePlace>,
    lang: Lang,
) -> String {
    let place = place.map_or(String::new(), |p| {
        let origin =
            origin_text(p.origin).map_or(String::new(), |o| fill(&RATE_ORIGIN, lang, &[("o", o)]));
        format!(" ({} {}{origin})", p.kind, p.key)
    });
    let premium = if rate.premium {
        PREMIUM[lang.index()]
    } else {
        ""
    };
    fill(
        &RATE,
        lang,
        &[
            ("name", format!("{:?}", rate.name)),
            ("place", place),
            ("country", rate.country.clone()),
            ("premium", premium.to_string()),
            ("rpm", rate.rate_per_minute.to_string()),
            ("f", rate.first_block_s.to_string()),
            ("i", rate.increment_s.to_string()),
            ("from", instant(rate.effective_from)),
        ],
    )
}

/// C6, C7 and the credit part of C32.
fn arithmetic_text(step: &Step, lang: Lang, currency: Currency) -> String {
    match step {
        Step::Billable {
            duration_s,
            first_block_s,
            increment_s,
            billable_s,
        } => {
            let texts = if *duration_s <= u64::from(*first_block_s) {
                &BILLABLE_FIRST_BLOCK
            } else {
                &BILLABLE_INCREMENTS
            };
            fill(
                texts,
                lang,
                &[
                    ("d", duration_s.to_string()),
                    ("f", first_block_s.to_string()),
                    ("i", increment_s.to_string()),
                    ("b", billable_s.to_string()),
                ],
            )
        }
        Step::CreditCost {
            connection_fee,
            rate_per_minute,
            billable_s,
            exact: value,
            rounded,
        } => {
            let fee = if connection_fee.is_zero() {
                String::new()
            } else {
                format!("{connection_fee} + ")
            };
            fill(
                &CREDIT_COST,
                lang,
                &[
                    ("fee", fee),
                    ("rpm", rate_per_minute.to_string()),
                    ("b", billable_s.to_string()),
                    ("exact", exact(*value)),
                    ("rounded", money(currency, *rounded)),
                ],
            )
        }
        Step::SplitCost {
            billable_s,
            pool_minutes,
            credit_s,
            fee_waived,
            rate_per_minute,
            exact: value,
            rounded,
        } => {
            let no_fee = if *fee_waived {
                NO_FEE[lang.index()]
            } else {
                ""
            };
            fill(
                &SPLIT_COST,
                lang,
                &[
                    ("b", billable_s.to_string()),
                    ("p", pool_minutes.to_string()),
                    ("s", credit_s.to_string()),
                    ("no_fee", no_fee.to_string()),
                    ("rpm", rate_per_minute.to_string()),
                    ("exact", exact(*value)),
                    ("rounded", money(currency, *rounded)),
                ],
            )
        }
        _ => unreachable!("arithmetic_text is called for arithmetic steps only"),
    }
}

/// C14, C25, C27: a live or lapsed call's hold.
fn reservation_text(step: &Step, lang: Lang, currency: Currency) -> String {
    match step {
        Step::Authorized {
            start,
            funding,
            credit,
            pool_minutes,
            granted_s,
        } => {
            let granted = granted_s.map_or(UNLIMITED[lang.index()].to_string(), |s| {
                fill(&GRANTED, lang, &[("s", s.to_string())])
            });
            fill(
                &AUTHORIZED,
                lang,
                &[
                    ("start", instant(*start)),
                    ("funding", funding.as_str().to_string()),
                    ("credit", money(currency, *credit)),
                    ("p", pool_minutes.to_string()),
                    ("granted", granted),
                ],
            )
        }
        Step::Available { balance, available } => fill(
            &AVAILABLE,
            lang,
            &[
                ("balance", money(currency, *balance)),
                ("available", money(currency, *available)),
            ],
        ),
        Step::HoldLapses { expires_at } => {
            fill(&HOLD_LAPSES, lang, &[("at", instant(*expires_at))])
        }
        Step::HoldLapsed => fill(&HOLD_LAPSED, lang, &[]),
        _ => unreachable!("reservation_text is called for reservation steps only"),
    }
}

//! Localized error messages of the HTTP API and `Accept-Language` negotiation.
//!
//! Every error the API returns carries a stable machine code (a reason code of the charging
//! rules, or one of [`API_CODES`]) and a one-sentence human message in the language the client
//! asked for. The five languages are those of the product's seed documents: English, Japanese,
//! Simplified Chinese, French and German.
//!
//! Terminology follows the seed article in each language where it is right, and the publisher's
//! own established terms where the seed's machine translation went astray:
//!
//! | term | ja | zh-CN | fr | de |
//! | --- | --- | --- | --- | --- |
//! | Communications Credits | 通信クレジット | 通信点数 | Crédits de Communications | Kommunikationsguthaben |
//! | audio conferencing | 電話会議 | 音频会议 | audioconférence | Audiokonferenzen |
//! | dial-out | ダイヤルアウト | 拨出 | appels sortants | Dial-Out |
//! | toll-free | フリー ダイヤル | 免费电话 | numéros d’appel gratuits | gebührenfrei |
//! | license | ライセンス | 许可证 | licence | Lizenz |
//! | pay-per-minute | 分単位課金 | 按分钟付费 | paiement à la minute | Bezahlung pro Minute |
//! | volume licensing | ボリューム ライセンス | 批量许可 | licence en volume | Volumenlizenz |
//!
//! (The zh-CN seed renders "Communications Credits" as "Communications 字幕式", i.e. film
//! credits, and "volume" as 卷; the de-DE seed renders it as "Communications haben" and the offer
//! as "Lohn-per-minute", i.e. wages; the fr-FR seed calls the offer "paie par minute", i.e.
//! payroll. Those are not reused.)
//!
//! Messages are plain text without placeholders, so they can be cached, compared in tests and
//! never leak request data. Each ends with the language's full stop: `.` for en, fr and de, `。`
//! for ja and zh-CN.

pub use minutely_core::lang::Lang;

/// The steps of an explanation in words.
pub mod explain;

/// Free-function form of [`Lang::negotiate`], for handlers that read the header directly.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    Lang::negotiate(accept_language)
}

/// The localized message for a stable error code: a reason code of `minutely_core::Reason`
/// or one of [`API_CODES`]. An unknown code gets a generic "the request was refused" message in
/// the same language, so a new code can never produce an empty or English-only answer.
pub fn message(code: &str, lang: Lang) -> &'static str {
    let texts = texts(code).unwrap_or(&REFUSED);
    texts[lang.index()]
}

/// Whether `code` has its own messages (rather than the generic fallback).
pub fn has_message(code: &str) -> bool {
    texts(code).is_some()
}

/// The error codes that belong to the API itself rather than to the charging rules.
/// (`invalid_record` is not listed: it is a reason code of the rules, C38.)
pub const API_CODES: &[&str] = &[
    "invalid_request",
    "unauthorized",
    "key_revoked",
    "forbidden",
    "not_found",
    "payload_too_large",
    "batch_too_large",
    "too_many_requests",
    "unavailable",
    "internal",
    "call_not_found",
    "call_already_ended",
    "call_already_answered",
    "call_lapsed",
    "service_number_shared",
    "conflict",
    "unsupported_media_type",
    "no_more_credit",
    "request_timeout",
    "uri_too_long",
    "headers_too_large",
    "webhook_address_refused",
    "unprocessable_request",
    "too_many_calls",
];

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// The message of a code in each language, indexed by [`Lang::index`].
type Texts = [&'static str; 5];

/// The message for a code without messages of its own.
const REFUSED: Texts = [
    "The request was refused.",
    "リクエストは拒否されました。",
    "请求被拒绝。",
    "La requête a été refusée.",
    "Die Anforderung wurde abgelehnt.",
];

/// Declares the message catalogue: a `match` for lookups and the list of codes for tests.
macro_rules! catalogue {
    ($($code:literal => {
        en: $en:literal,
        ja: $ja:literal,
        zh_cn: $zh_cn:literal,
        fr: $fr:literal,
        de: $de:literal $(,)?
    })*) => {
        /// The messages of `code`, if it has its own.
        fn texts(code: &str) -> Option<&'static Texts> {
            match code {
                $($code => Some(&[$en, $ja, $zh_cn, $fr, $de]),)*
                _ => None,
            }
        }

        /// Every code with messages of its own, in declaration order.
        #[cfg(test)]
        const CATALOGUE_CODES: &[&str] = &[$($code),*];
    };
}

catalogue! {
    // Reason codes of the charging rules (`minutely_core::Reason`), in declaration order.
    "ppm_requires_volume_licensing" => {
        en: "Pay-per-minute audio conferencing licenses require a volume licensing agreement.",
        ja: "分単位課金の電話会議ライセンスには、ボリューム ライセンス契約が必要です。",
        zh_cn: "按分钟付费的音频会议许可证需要批量许可协议。",
        fr: "Les licences d’audioconférence avec paiement à la minute nécessitent un contrat de licence en volume.",
        de: "Lizenzen für Audiokonferenzen mit Bezahlung pro Minute erfordern einen Volumenlizenzvertrag.",
    }
    "country_ppm_only" => {
        en: "Only pay-per-minute audio conferencing is sold in the tenant's country.",
        ja: "テナントの国/地域では、分単位課金の電話会議のみが販売されています。",
        zh_cn: "租户所在的国家/地区仅销售按分钟付费的音频会议。",
        fr: "Seule l’audioconférence avec paiement à la minute est vendue dans le pays du locataire.",
        de: "Im Land des Mandanten werden nur Audiokonferenzen mit Bezahlung pro Minute angeboten.",
    }
    "country_not_supported" => {
        en: "Audio conferencing is not sold in the tenant's country.",
        ja: "テナントの国/地域では、電話会議は販売されていません。",
        zh_cn: "租户所在的国家/地区不销售音频会议。",
        fr: "L’audioconférence n’est pas vendue dans le pays du locataire.",
        de: "Im Land des Mandanten werden keine Audiokonferenzen angeboten.",
    }
    "credits_unavailable_in_country" => {
        en: "Communications Credits are not available in the tenant's country.",
        ja: "テナントの国/地域では、通信クレジットを利用できません。",
        zh_cn: "租户所在的国家/地区不提供通信点数。",
        fr: "Les Crédits de Communications ne sont pas disponibles dans le pays du locataire.",
        de: "Kommunikationsguthaben ist im Land des Mandanten nicht verfügbar.",
    }
    "credits_unavailable_for_agreement" => {
        en: "Communications Credits are not available under a post-usage agreement.",
        ja: "使用後請求の契約では、通信クレジットを利用できません。",
        zh_cn: "使用后计费的协议不提供通信点数。",
        fr: "Les Crédits de Communications ne sont pas disponibles avec un contrat de facturation après utilisation.",
        de: "Kommunikationsguthaben ist bei einem Vertrag mit Abrechnung nach Nutzung nicht verfügbar.",
    }
    "credits_not_set_up" => {
        en: "The Communications Credits wallet is not set up.",
        ja: "通信クレジットが設定されていません。",
        zh_cn: "尚未设置通信点数。",
        fr: "Les Crédits de Communications ne sont pas configurés.",
        de: "Das Kommunikationsguthaben ist nicht eingerichtet.",
    }
    "number_kind_unavailable" => {
        en: "This kind of service number (toll or toll-free) is not available in the number's country.",
        ja: "この種類 (有料またはフリー ダイヤル) のサービス番号は、その番号の国/地域では利用できません。",
        zh_cn: "此类服务号码（收费或免费电话）在该号码所属的国家/地区不可用。",
        fr: "Ce type de numéro de service (payant ou gratuit) n’est pas disponible dans le pays du numéro.",
        de: "Diese Art von Servicenummer (gebührenpflichtig oder gebührenfrei) ist im Land der Nummer nicht verfügbar.",
    }
    "license_limit_exceeded" => {
        en: "All purchased licenses of that kind are already assigned.",
        ja: "購入済みのこの種類のライセンスは、すべて割り当て済みです。",
        zh_cn: "已购买的此类许可证已全部分配。",
        fr: "Toutes les licences de ce type qui ont été achetées sont déjà attribuées.",
        de: "Alle erworbenen Lizenzen dieser Art sind bereits zugewiesen.",
    }
    "conflicting_conferencing_licenses" => {
        en: "A user can hold at most one of the MCOMEETADD and MCOMEETACPEA licenses.",
        ja: "1 人のユーザーが保持できるのは、MCOMEETADD と MCOMEETACPEA のライセンスのうちいずれか 1 つだけです。",
        zh_cn: "一个用户最多只能拥有 MCOMEETADD 和 MCOMEETACPEA 许可证中的一个。",
        fr: "Un utilisateur ne peut détenir qu’une seule des licences MCOMEETADD et MCOMEETACPEA.",
        de: "Ein Benutzer kann höchstens eine der Lizenzen MCOMEETADD und MCOMEETACPEA besitzen.",
    }
    "invalid_number" => {
        en: "The phone number is not a valid E.164 number.",
        ja: "電話番号が有効な E.164 番号ではありません。",
        zh_cn: "该电话号码不是有效的 E.164 号码。",
        fr: "Le numéro de téléphone n’est pas un numéro E.164 valide.",
        de: "Die Telefonnummer ist keine gültige E.164-Nummer.",
    }
    "no_rate" => {
        en: "No rate is in force for this call.",
        ja: "この通話に適用される単価がありません。",
        zh_cn: "没有适用于此呼叫的有效费率。",
        fr: "Aucun tarif n’est en vigueur pour cet appel.",
        de: "Für diesen Anruf ist kein Tarif gültig.",
    }
    "amount_below_minimum" => {
        en: "The amount is below the minimum.",
        ja: "金額が最小額を下回っています。",
        zh_cn: "金额低于最低限额。",
        fr: "Le montant est inférieur au minimum.",
        de: "Der Betrag liegt unter dem Mindestbetrag.",
    }
    "amount_not_whole" => {
        en: "The amount is not a whole number of currency units.",
        ja: "金額が通貨単位の整数ではありません。",
        zh_cn: "金额不是整数个货币单位。",
        fr: "Le montant n’est pas un nombre entier d’unités monétaires.",
        de: "Der Betrag ist keine ganze Zahl von Währungseinheiten.",
    }
    "amount_out_of_range" => {
        en: "The amount or count is larger than the largest value accepted for this field.",
        ja: "金額または数量が、このフィールドで受け付けられる最大値を超えています。",
        zh_cn: "金额或数量超过了此字段可接受的最大值。",
        fr: "Le montant ou la quantité dépasse la plus grande valeur acceptée pour ce champ.",
        de: "Der Betrag oder die Anzahl ist größer als der größte für dieses Feld zulässige Wert.",
    }
    "insufficient_credits" => {
        en: "The available Communications Credits balance is zero or negative.",
        ja: "利用可能な通信クレジットの残高が 0 以下です。",
        zh_cn: "可用的通信点数余额为零或负数。",
        fr: "Le solde disponible des Crédits de Communications est nul ou négatif.",
        de: "Das verfügbare Kommunikationsguthaben ist null oder negativ.",
    }
    "organizer_not_enabled" => {
        en: "The organizer has no audio conferencing license.",
        ja: "開催者に電話会議のライセンスがありません。",
        zh_cn: "组织者没有音频会议许可证。",
        fr: "L’organisateur n’a pas de licence d’audioconférence.",
        de: "Der Organisator hat keine Lizenz für Audiokonferenzen.",
    }
    "toll_free_disabled" => {
        en: "Toll-free dial-in is disabled for the organizer.",
        ja: "開催者のフリー ダイヤルによるダイヤルインは無効になっています。",
        zh_cn: "已为该组织者禁用免费电话拨入。",
        fr: "Les appels entrants vers les numéros d’appel gratuits sont désactivés pour l’organisateur.",
        de: "Die gebührenfreie Einwahl ist für den Organisator deaktiviert.",
    }
    "policy_disabled" => {
        en: "The organizer's dial-out policy does not allow dial-out.",
        ja: "開催者のダイヤルアウト ポリシーでは、ダイヤルアウトが許可されていません。",
        zh_cn: "组织者的拨出策略不允许拨出。",
        fr: "La stratégie d’appels sortants de l’organisateur n’autorise pas les appels sortants.",
        de: "Die Dial-Out-Richtlinie des Organisators lässt kein Dial-Out zu.",
    }
    "policy_domestic_only" => {
        en: "The organizer's dial-out policy allows domestic destinations only.",
        ja: "開催者のダイヤルアウト ポリシーでは、国内の通話先のみが許可されています。",
        zh_cn: "组织者的拨出策略仅允许拨打国内目的地。",
        fr: "La stratégie d’appels sortants de l’organisateur n’autorise que les destinations nationales.",
        de: "Die Dial-Out-Richtlinie des Organisators erlaubt nur Ziele im Inland.",
    }
    "policy_zone_a_only" => {
        en: "The organizer's dial-out policy allows Zone A destinations only.",
        ja: "開催者のダイヤルアウト ポリシーでは、ゾーン A の通話先のみが許可されています。",
        zh_cn: "组织者的拨出策略仅允许拨打 A 区目的地。",
        fr: "La stratégie d’appels sortants de l’organisateur n’autorise que les destinations de la zone A.",
        de: "Die Dial-Out-Richtlinie des Organisators erlaubt nur Ziele in Zone A.",
    }
    "credits_license_missing" => {
        en: "The organizer needs the MCOPSTNPP license for usage paid with Communications Credits.",
        ja: "通信クレジットで支払う利用には、開催者に MCOPSTNPP ライセンスが必要です。",
        zh_cn: "使用通信点数付费时，组织者需要拥有 MCOPSTNPP 许可证。",
        fr: "L’organisateur a besoin de la licence MCOPSTNPP pour une utilisation payée avec les Crédits de Communications.",
        de: "Für eine mit Kommunikationsguthaben bezahlte Nutzung benötigt der Organisator die Lizenz MCOPSTNPP.",
    }
    "call_id_reused" => {
        en: "This call_id was already submitted with different content.",
        ja: "この call_id は、異なる内容ですでに送信されています。",
        zh_cn: "此 call_id 已使用不同的内容提交过。",
        fr: "Ce call_id a déjà été soumis avec un contenu différent.",
        de: "Diese call_id wurde bereits mit anderem Inhalt übermittelt.",
    }
    "invalid_record" => {
        en: "The call record is invalid.",
        ja: "通話レコードが無効です。",
        zh_cn: "呼叫记录无效。",
        fr: "L’enregistrement d’appel n’est pas valide.",
        de: "Der Anrufdatensatz ist ungültig.",
    }
    "unknown_service_number" => {
        en: "The tenant has no such service number.",
        ja: "テナントにこのサービス番号はありません。",
        zh_cn: "租户没有此服务号码。",
        fr: "Le locataire ne possède pas ce numéro de service.",
        de: "Der Mandant hat keine solche Servicenummer.",
    }
    "funding_not_permitted" => {
        en: "Only the operator may fund a reseller tenant's Communications Credits.",
        ja: "リセラー テナントの通信クレジットに入金できるのは、オペレーターのみです。",
        zh_cn: "只有运营商可以为经销商租户的通信点数充值。",
        fr: "Seul l’opérateur peut alimenter les Crédits de Communications d’un locataire revendeur.",
        de: "Nur der Betreiber darf das Kommunikationsguthaben eines Wiederverkäufer-Mandanten aufladen.",
    }
    "upn_not_unique" => {
        en: "Another user of the tenant already has this UPN.",
        ja: "このテナントの別のユーザーが、すでにこの UPN を使用しています。",
        zh_cn: "该租户中的另一个用户已在使用此 UPN。",
        fr: "Un autre utilisateur du locataire possède déjà cet UPN.",
        de: "Ein anderer Benutzer des Mandanten hat bereits diesen UPN.",
    }
    "invalid_policy" => {
        en: "The dial-out policy name is not recognized.",
        ja: "ダイヤルアウト ポリシーの名前を認識できません。",
        zh_cn: "无法识别该拨出策略名称。",
        fr: "Le nom de la stratégie d’appels sortants n’est pas reconnu.",
        de: "Der Name der Dial-Out-Richtlinie ist unbekannt.",
    }
    "unknown_tenant" => {
        en: "No such tenant exists.",
        ja: "該当するテナントは存在しません。",
        zh_cn: "该租户不存在。",
        fr: "Ce locataire n’existe pas.",
        de: "Dieser Mandant existiert nicht.",
    }
    "unknown_user" => {
        en: "No such user exists.",
        ja: "該当するユーザーは存在しません。",
        zh_cn: "该用户不存在。",
        fr: "Cet utilisateur n’existe pas.",
        de: "Dieser Benutzer existiert nicht.",
    }
    "fraud_destination_blocked" => {
        en: "The destination is on the operator's list of high-risk destinations.",
        ja: "この通話先は、オペレーターの高リスク通話先リストに含まれています。",
        zh_cn: "该目的地在运营商的高风险目的地列表中。",
        fr: "La destination figure sur la liste des destinations à haut risque de l’opérateur.",
        de: "Das Ziel steht auf der Liste der Hochrisikoziele des Betreibers.",
    }
    "fraud_premium_not_enabled" => {
        en: "Premium destinations are not enabled for the tenant.",
        ja: "テナントでは、プレミアム料金の通話先が有効になっていません。",
        zh_cn: "该租户未启用高费率目的地。",
        fr: "Les destinations surtaxées ne sont pas activées pour le locataire.",
        de: "Premium-Ziele sind für den Mandanten nicht aktiviert.",
    }
    "fraud_concurrency_limit" => {
        en: "Too many dial-out calls are live at once for the organizer, the conference or the tenant.",
        ja: "開催者、会議、またはテナントで同時に進行中のダイヤルアウト通話が多すぎます。",
        zh_cn: "组织者、会议或租户同时进行的拨出呼叫过多。",
        fr: "Trop d’appels sortants sont en cours simultanément pour l’organisateur, la conférence ou le locataire.",
        de: "Für den Organisator, die Konferenz oder den Mandanten laufen zu viele Dial-Out-Anrufe gleichzeitig.",
    }
    "fraud_call_rate_limit" => {
        en: "Too many dial-out attempts were made in the last minute.",
        ja: "直近 1 分間のダイヤルアウトの試行回数が多すぎます。",
        zh_cn: "过去一分钟内的拨出尝试次数过多。",
        fr: "Trop de tentatives d’appels sortants ont été faites au cours de la dernière minute.",
        de: "In der letzten Minute gab es zu viele Dial-Out-Versuche.",
    }
    "fraud_spend_limit" => {
        en: "Dial-out spending is far above the tenant's usual level.",
        ja: "ダイヤルアウトの利用額が、テナントの通常の水準を大幅に上回っています。",
        zh_cn: "拨出支出远高于租户的正常水平。",
        fr: "Les dépenses d’appels sortants sont très supérieures au niveau habituel du locataire.",
        de: "Die Dial-Out-Ausgaben liegen weit über dem üblichen Niveau des Mandanten.",
    }
    "fraud_country_not_approved" => {
        en: "Calls to this country need the tenant admin's approval.",
        ja: "この国/地域への通話には、テナント管理者の承認が必要です。",
        zh_cn: "拨打此国家/地区需要租户管理员的批准。",
        fr: "Les appels vers ce pays nécessitent l’approbation de l’administrateur du locataire.",
        de: "Anrufe in dieses Land erfordern die Genehmigung des Mandantenadministrators.",
    }
    "fraud_test_call_pattern" => {
        en: "Short test calls to this country were detected, so it is blocked for a day.",
        ja: "この国/地域への短いテスト通話が検出されたため、1 日間ブロックされています。",
        zh_cn: "检测到拨往此国家/地区的短时测试呼叫，该国家/地区已被阻止一天。",
        fr: "Des appels de test courts vers ce pays ont été détectés, il est donc bloqué pendant une journée.",
        de: "Es wurden kurze Testanrufe in dieses Land erkannt, daher ist es für einen Tag gesperrt.",
    }
    "fraud_duration_cap" => {
        en: "The call reached the longest duration allowed for its destination.",
        ja: "通話が、その通話先で許可されている最長の通話時間に達しました。",
        zh_cn: "该呼叫已达到其目的地允许的最长时长。",
        fr: "L’appel a atteint la durée maximale autorisée pour sa destination.",
        de: "Der Anruf hat die für sein Ziel zulässige Höchstdauer erreicht.",
    }
    "fraud_dialout_suspended" => {
        en: "Dial-out is suspended until the tenant admin or the operator lifts the suspension.",
        ja: "テナント管理者またはオペレーターが解除するまで、ダイヤルアウトは停止されています。",
        zh_cn: "拨出已暂停，直到租户管理员或运营商解除暂停。",
        fr: "Les appels sortants sont suspendus jusqu’à ce que l’administrateur du locataire ou l’opérateur lève la suspension.",
        de: "Dial-Out ist ausgesetzt, bis der Mandantenadministrator oder der Betreiber es wieder freigibt.",
    }

    // Codes of the API itself (`API_CODES`).
    "invalid_request" => {
        en: "The request body or a parameter is malformed.",
        ja: "リクエスト本文またはパラメーターの形式が正しくありません。",
        zh_cn: "请求正文或参数的格式不正确。",
        fr: "Le corps de la requête ou un paramètre est mal formé.",
        de: "Der Anforderungstext oder ein Parameter ist fehlerhaft.",
    }
    "unauthorized" => {
        en: "The API key is missing or not recognized.",
        ja: "API キーが指定されていないか、認識できません。",
        zh_cn: "缺少 API 密钥或无法识别该密钥。",
        fr: "La clé d’API est absente ou n’est pas reconnue.",
        de: "Der API-Schlüssel fehlt oder ist unbekannt.",
    }
    "key_revoked" => {
        en: "The API key has been revoked.",
        ja: "この API キーは失効しています。",
        zh_cn: "该 API 密钥已被吊销。",
        fr: "La clé d’API a été révoquée.",
        de: "Der API-Schlüssel wurde widerrufen.",
    }
    "forbidden" => {
        en: "This API key is not allowed to perform this operation.",
        ja: "この API キーには、この操作を実行する権限がありません。",
        zh_cn: "此 API 密钥无权执行此操作。",
        fr: "Cette clé d’API n’est pas autorisée à effectuer cette opération.",
        de: "Dieser API-Schlüssel ist für diesen Vorgang nicht berechtigt.",
    }
    "not_found" => {
        en: "The requested resource does not exist.",
        ja: "要求されたリソースは存在しません。",
        zh_cn: "请求的资源不存在。",
        fr: "La ressource demandée n’existe pas.",
        de: "Die angeforderte Ressource existiert nicht.",
    }
    "payload_too_large" => {
        en: "The request body is too large.",
        ja: "リクエスト本文が大きすぎます。",
        zh_cn: "请求正文过大。",
        fr: "Le corps de la requête est trop volumineux.",
        de: "Der Anforderungstext ist zu groß.",
    }
    "too_many_calls" => {
        en: "The period holds more calls than one rerate run can take, so split it.",
        ja: "期間内の通話が1回の再計算で扱える数を超えているため、期間を分割してください。",
        zh_cn: "该期间的通话数超过一次重新计费可处理的数量，请拆分期间。",
        fr: "La période contient plus d’appels qu’un recalcul ne peut en traiter, divisez-la.",
        de: "Der Zeitraum enthält mehr Anrufe, als eine Neuberechnung verarbeiten kann, teilen Sie ihn daher auf.",
    }
    "batch_too_large" => {
        en: "The batch contains too many call records.",
        ja: "バッチに含まれる通話レコードが多すぎます。",
        zh_cn: "该批次包含的呼叫记录过多。",
        fr: "Le lot contient trop d’enregistrements d’appel.",
        de: "Der Stapel enthält zu viele Anrufdatensätze.",
    }
    "too_many_requests" => {
        en: "Too many requests were sent, so please try again later.",
        ja: "リクエストが多すぎるため、しばらくしてから再試行してください。",
        zh_cn: "请求过多，请稍后重试。",
        fr: "Trop de requêtes ont été envoyées, veuillez réessayer plus tard.",
        de: "Es wurden zu viele Anforderungen gesendet, bitte versuchen Sie es später erneut.",
    }
    "unavailable" => {
        en: "The service is starting up or shutting down, so please try again shortly.",
        ja: "サービスの起動中または停止中のため、しばらくしてから再試行してください。",
        zh_cn: "服务正在启动或关闭，请稍后重试。",
        fr: "Le service est en cours de démarrage ou d’arrêt, veuillez réessayer dans quelques instants.",
        de: "Der Dienst wird gerade gestartet oder beendet, bitte versuchen Sie es in Kürze erneut.",
    }
    "internal" => {
        en: "An internal error occurred.",
        ja: "内部エラーが発生しました。",
        zh_cn: "发生了内部错误。",
        fr: "Une erreur interne s’est produite.",
        de: "Ein interner Fehler ist aufgetreten.",
    }
    "call_not_found" => {
        en: "No authorized call has this ID.",
        ja: "この ID の承認済みの通話はありません。",
        zh_cn: "不存在具有此 ID 的已授权呼叫。",
        fr: "Aucun appel autorisé ne porte cet identifiant.",
        de: "Es gibt keinen autorisierten Anruf mit dieser ID.",
    }
    "call_already_ended" => {
        en: "This call has already ended.",
        ja: "この通話はすでに終了しています。",
        zh_cn: "此呼叫已结束。",
        fr: "Cet appel est déjà terminé.",
        de: "Dieser Anruf wurde bereits beendet.",
    }
    "call_already_answered" => {
        en: "This call was already answered at another instant.",
        ja: "この通話はすでに別の時刻に応答されています。",
        zh_cn: "此呼叫已在另一时刻接听。",
        fr: "Cet appel a déjà été décroché à un autre instant.",
        de: "Dieser Anruf wurde bereits zu einem anderen Zeitpunkt angenommen.",
    }
    "call_lapsed" => {
        en: "The hold of this call has lapsed, so it can only be ended.",
        ja: "この通話の予約は失効したため、終了のみ可能です。",
        zh_cn: "此呼叫的预留已失效，只能结束。",
        fr: "La réservation de cet appel a expiré, il ne peut donc plus qu’être terminé.",
        de: "Die Reservierung dieses Anrufs ist verfallen, er kann nur noch beendet werden.",
    }
    "service_number_shared" => {
        en: "This service number is shared by several tenants, so name the tenant.",
        ja: "このサービス番号は複数のテナントで共有されているため、テナントを指定してください。",
        zh_cn: "此服务号码由多个租户共享，请指定租户。",
        fr: "Ce numéro de service est partagé par plusieurs locataires, indiquez donc le locataire.",
        de: "Diese Servicenummer wird von mehreren Mandanten geteilt, geben Sie daher den Mandanten an.",
    }
    "conflict" => {
        en: "The resource already exists.",
        ja: "このリソースはすでに存在します。",
        zh_cn: "该资源已存在。",
        fr: "La ressource existe déjà.",
        de: "Die Ressource existiert bereits.",
    }
    "unsupported_media_type" => {
        en: "The content type of the request is not supported.",
        ja: "リクエストのコンテンツ タイプはサポートされていません。",
        zh_cn: "不支持该请求的内容类型。",
        fr: "Le type de contenu de la requête n’est pas pris en charge.",
        de: "Der Inhaltstyp der Anforderung wird nicht unterstützt.",
    }
    "no_more_credit" => {
        en: "No more Communications Credits are available, so please end the call at the granted limit.",
        ja: "これ以上利用できる通信クレジットがないため、許可された上限で通話を終了してください。",
        zh_cn: "已没有更多可用的通信点数，请在授权的时长结束时结束呼叫。",
        fr: "Aucun Crédit de Communications supplémentaire n’est disponible, veuillez mettre fin à l’appel à la limite accordée.",
        de: "Es ist kein weiteres Kommunikationsguthaben verfügbar, bitte beenden Sie den Anruf am Ende der gewährten Dauer.",
    }
    "request_timeout" => {
        en: "The request did not arrive in time, so please send it again.",
        ja: "リクエストが時間内に届かなかったため、もう一度送信してください。",
        zh_cn: "请求未在规定时间内到达，请重新发送。",
        fr: "La requête n’est pas arrivée à temps, veuillez la renvoyer.",
        de: "Die Anforderung ist nicht rechtzeitig eingetroffen, bitte senden Sie sie erneut.",
    }
    "uri_too_long" => {
        en: "The request address is too long.",
        ja: "リクエストのアドレスが長すぎます。",
        zh_cn: "请求地址过长。",
        fr: "L’adresse de la requête est trop longue.",
        de: "Die Adresse der Anforderung ist zu lang.",
    }
    "headers_too_large" => {
        en: "The request headers are too large.",
        ja: "リクエスト ヘッダーが大きすぎます。",
        zh_cn: "请求标头过大。",
        fr: "Les en-têtes de la requête sont trop volumineux.",
        de: "Die Header der Anforderung sind zu groß.",
    }
    "webhook_address_refused" => {
        en: "The webhook URL points to an internal or reserved address that webhooks may not reach.",
        ja: "Webhook の URL が、Webhook から到達できない内部アドレスまたは予約済みアドレスを指しています。",
        zh_cn: "该 Webhook URL 指向 Webhook 无法访问的内部地址或保留地址。",
        fr: "L’URL du webhook désigne une adresse interne ou réservée que les webhooks ne peuvent pas atteindre.",
        de: "Die Webhook-URL verweist auf eine interne oder reservierte Adresse, die Webhooks nicht erreichen dürfen.",
    }
    "unprocessable_request" => {
        en: "The request is well formed, but its values cannot be used together or at this time.",
        ja: "リクエストの形式は正しいですが、値の組み合わせまたは時点が原因で処理できません。",
        zh_cn: "请求格式正确，但其中的值无法同时使用或无法在此时使用。",
        fr: "La requête est bien formée, mais ses valeurs ne peuvent pas être utilisées ensemble ou à ce moment.",
        de: "Die Anforderung ist korrekt aufgebaut, aber ihre Werte können nicht zusammen oder zu diesem Zeitpunkt verwendet werden.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minutely_core::Reason;
    use minutely_core::lang::MAX_HEADER_BYTES;
    use std::collections::HashSet;

    /// Every code that must have messages: the reason codes and the API codes.
    fn required_codes() -> Vec<&'static str> {
        Reason::ALL
            .iter()
            .map(|reason| reason.code())
            .chain(API_CODES.iter().copied())
            .collect()
    }

    #[test]
    fn catalogue_is_exactly_the_reason_codes_and_the_api_codes() {
        let catalogue: HashSet<&str> = CATALOGUE_CODES.iter().copied().collect();
        assert_eq!(catalogue.len(), CATALOGUE_CODES.len(), "duplicate code");
        let required: HashSet<&str> = required_codes().into_iter().collect();
        assert_eq!(catalogue, required);
        for reason in Reason::ALL {
            assert!(
                has_message(reason.code()),
                "{} has no message",
                reason.code()
            );
        }
    }

    #[test]
    fn api_codes_are_unique_and_not_reason_codes() {
        let unique: HashSet<&str> = API_CODES.iter().copied().collect();
        assert_eq!(unique.len(), API_CODES.len());
        for code in API_CODES {
            assert_eq!(Reason::from_code(code), None, "{code} is a reason code");
        }
        assert!(!API_CODES.contains(&"invalid_record"));
        assert!(Reason::from_code("invalid_record").is_some());
    }

    #[test]
    fn every_code_has_a_translated_message_in_every_language() {
        for code in required_codes() {
            let english = message(code, Lang::En);
            for lang in Lang::ALL {
                let text = message(code, lang);
                assert!(!text.trim().is_empty(), "{code} in {}", lang.tag());
                if lang != Lang::En {
                    assert_ne!(text, english, "{code} in {} is untranslated", lang.tag());
                }
            }
        }
    }

    #[test]
    fn messages_are_one_plain_sentence_with_native_punctuation() {
        let mut all = vec![REFUSED];
        all.extend(
            CATALOGUE_CODES
                .iter()
                .filter_map(|code| texts(code).copied()),
        );
        for texts in all {
            for lang in Lang::ALL {
                let text = texts[lang.index()];
                let what = format!("{:?} in {}", text, lang.tag());
                assert_eq!(text, text.trim(), "{what}: surrounding whitespace");
                assert!(
                    !text.contains(['{', '}', '%', '<', '>', '\n']),
                    "{what}: placeholder or markup"
                );
                assert!(!text.contains("  "), "{what}: double space");
                let (full_stop, body) = match lang {
                    Lang::Ja | Lang::ZhCn => ('。', text.strip_suffix('。')),
                    Lang::En | Lang::Fr | Lang::De => ('.', text.strip_suffix('.')),
                };
                let Some(body) = body else {
                    panic!("{what}: does not end with {full_stop}");
                };
                assert!(!body.ends_with([' ', '.', '。']), "{what}");
                assert!(!body.contains("。"), "{what}: more than one sentence");
                assert!(!body.contains(". "), "{what}: more than one sentence");
                assert!(!body.contains(['!', '?', ';', '？', '！']), "{what}");
                if lang == Lang::Fr {
                    assert!(!text.contains('\''), "{what}: use the French apostrophe ’");
                }
            }
        }
    }

    #[test]
    fn unknown_codes_get_the_generic_refusal() {
        assert!(!has_message("no_such_code"));
        for lang in Lang::ALL {
            assert_eq!(message("no_such_code", lang), REFUSED[lang.index()]);
            assert_eq!(message("", lang), REFUSED[lang.index()]);
        }
        assert_eq!(
            message("no_such_code", Lang::Fr),
            "La requête a été refusée."
        );
    }

    #[test]
    fn seed_terminology_is_used() {
        let credits = [
            "Communications Credits",
            "通信クレジット",
            "通信点数",
            "Crédits de Communications",
            "Kommunikationsguthaben",
        ];
        for lang in Lang::ALL {
            let text = message("credits_unavailable_in_country", lang);
            assert!(text.contains(credits[lang.index()]), "{text}");
        }
        assert!(message("toll_free_disabled", Lang::Ja).contains("フリー ダイヤル"));
        assert!(message("policy_disabled", Lang::Ja).contains("ダイヤルアウト"));
        assert!(message("country_not_supported", Lang::ZhCn).contains("音频会议"));
        assert!(message("organizer_not_enabled", Lang::Fr).contains("audioconférence"));
        assert!(message("country_not_supported", Lang::De).contains("Audiokonferenzen"));
    }

    #[test]
    fn tags() {
        let tags: Vec<&str> = Lang::ALL.iter().map(|lang| lang.tag()).collect();
        assert_eq!(tags, ["en", "ja", "zh-CN", "fr", "de"]);
        for (index, lang) in Lang::ALL.iter().enumerate() {
            assert_eq!(lang.index(), index);
            assert_eq!(Lang::negotiate(Some(lang.tag())), *lang);
        }
        assert_eq!(Lang::default(), Lang::En);
    }

    /// Checks one negotiation.
    fn check(header: Option<&str>, expected: Lang) {
        assert_eq!(Lang::negotiate(header), expected, "header {header:?}");
        assert_eq!(negotiate(header), expected, "header {header:?}");
    }

    #[test]
    fn negotiate_required_cases() {
        check(None, Lang::En);
        check(Some("fr-CH, fr;q=0.9, en;q=0.8"), Lang::Fr);
        check(Some("de;q=0.5, ja"), Lang::Ja);
        check(Some("zh-TW, zh-CN;q=0.5"), Lang::ZhCn);
        check(Some("zh-TW"), Lang::En);
        check(Some("*"), Lang::En);
        check(Some("en;q=0, fr;q=0"), Lang::En);
    }

    #[test]
    fn negotiate_regions_and_case() {
        check(Some("en-US"), Lang::En);
        check(Some("fr-CA"), Lang::Fr);
        check(Some("de-AT"), Lang::De);
        check(Some("ja-JP"), Lang::Ja);
        check(Some("DE-de"), Lang::De);
        check(Some("FR;Q=0.5, xx"), Lang::Fr);
        check(Some(""), Lang::En);
        check(Some("   "), Lang::En);
        check(Some("pt-BR, es"), Lang::En);
        check(Some("pt-BR, es;q=0.9, de;q=0.1"), Lang::De);
    }

    #[test]
    fn negotiate_chinese() {
        for simplified in [
            "zh",
            "zh-CN",
            "zh-cn",
            "zh-Hans",
            "zh-SG",
            "zh-Hans-CN",
            "zh-hans-tw",
        ] {
            check(Some(simplified), Lang::ZhCn);
        }
        check(Some("zh-cmn-Hans-CN"), Lang::ZhCn);
        check(Some("zh-CHS"), Lang::ZhCn);
        for traditional in [
            "zh-TW",
            "zh-HK",
            "zh-MO",
            "zh-Hant",
            "zh-Hant-CN",
            "zh-hant-tw",
        ] {
            check(Some(traditional), Lang::En);
        }
        check(Some("zh-CHT"), Lang::En);
        check(Some("zh-yue"), Lang::En);
        check(Some("zh-Latn"), Lang::En);
        check(Some("zh-HK, zh-TW;q=0.9, ja;q=0.1"), Lang::Ja);
    }

    #[test]
    fn negotiate_weights_and_ties() {
        check(Some("fr, de"), Lang::Fr);
        check(Some("de, fr"), Lang::De);
        check(Some("de;q=0.8, fr;q=0.8"), Lang::De);
        check(Some("ja;q=0.001, de;q=0"), Lang::Ja);
        check(Some("ja;q=0.5, fr;q=0.501"), Lang::Fr);
        check(Some("de;q=1.000, en;q=1"), Lang::De);
        check(Some("de;q=0., fr;q=0.1"), Lang::Fr);
        // The best range naming a language counts, at its own position.
        check(Some("en;q=0.5, fr;q=0.7, en-GB"), Lang::En);
        check(Some("fr;q=0.2, fr-CA;q=0.9, de;q=0.5"), Lang::Fr);
        // Whitespace around the separators.
        check(Some(" de ;\tq=0.2 ,\tja ; q=0.3 "), Lang::Ja);
    }

    #[test]
    fn negotiate_wildcard() {
        check(Some("*;q=0.5, de;q=0.4"), Lang::En);
        check(Some("de;q=0.4, *;q=0.5"), Lang::En);
        check(Some("en;q=0, *"), Lang::Ja);
        check(Some("en;q=0, ja;q=0, *;q=0.1"), Lang::ZhCn);
        check(Some("en;q=0, ja;q=0, zh;q=0, fr;q=0, de;q=0, *"), Lang::En);
        check(Some("*;q=0"), Lang::En);
        check(Some("*;q=0, de"), Lang::De);
        check(Some("es, *;q=0.1"), Lang::En);
        check(Some("de;q=0.05, *;q=0.1"), Lang::En);
        check(Some("*, de"), Lang::En);
    }

    #[test]
    fn negotiate_ignores_malformed_parts() {
        let malformed = [
            "de;q=2",
            "de;q=1.5",
            "de;q=1.001",
            "de;q=0.1234",
            "de;q=-1",
            "de;q=abc",
            "de;q=",
            "de;q",
            "de;x=1",
            "de;q=0.5;q=0.6",
            "de; q = 0.5",
            "de;q=.5",
            "de-",
            "-de",
            "d e",
            "deutschland",
            "de--AT",
            "de-toolongsubtag",
            "d3",
            "**",
            "de*",
            ";q=1",
            "de_AT",
            "dé",
        ];
        for element in malformed {
            check(Some(element), Lang::En);
            check(Some(&format!("{element}, fr;q=0.1")), Lang::Fr);
        }
        check(Some(",,, ,de,,"), Lang::De);
    }

    #[test]
    fn negotiate_reads_at_most_32_ranges() {
        let mut header = vec!["es"; 31].join(", ");
        header.push_str(", ja");
        check(Some(&header), Lang::Ja);
        header.insert_str(0, "es, ");
        check(Some(&header), Lang::En);
        // Empty elements do not count.
        let sparse = format!("{},ja", ",".repeat(500));
        check(Some(&sparse), Lang::Ja);
        // Malformed ones do.
        let mut noisy = vec!["!!"; 32].join(",");
        noisy.push_str(",ja");
        check(Some(&noisy), Lang::En);
    }

    #[test]
    fn negotiate_reads_at_most_one_kibibyte() {
        // A preferred range beyond the first 1 KiB is ignored.
        let padding = "es;q=0.9, ".repeat(2);
        let mut header = format!("{padding}de;q=0.5, ");
        header.push_str(&" ".repeat(MAX_HEADER_BYTES));
        header.push_str(", ja");
        check(Some(&header), Lang::De);
        // A range cut by the limit is not misread: `zh-TW` must not be read as `zh`.
        let cut = format!("fr;q=0.1,{}zh-TW", " ".repeat(MAX_HEADER_BYTES - 9 - 2));
        assert_eq!(cut.find("-TW"), Some(MAX_HEADER_BYTES));
        check(Some(&cut), Lang::Fr);
        // A range that ends exactly at the limit is read whole.
        let mut exact = "fr;q=0.1,".to_string();
        exact.push_str(&" ".repeat(MAX_HEADER_BYTES - exact.len() - 2));
        exact.push_str("de,ja");
        assert_eq!(exact.find(",ja"), Some(MAX_HEADER_BYTES));
        check(Some(&exact), Lang::De);
        // One huge element is ignored whole.
        check(Some(&"a".repeat(1 << 20)), Lang::En);
    }

    #[test]
    fn negotiate_never_panics_on_garbage() {
        let samples = [
            "\u{0}\u{1}\u{7f}",
            "ja;q=0.5\u{0}",
            "日本語, 中文;q=0.9",
            ";;;;,,,;=,=;q=;q==1",
            "q=1",
            "*;q=1;q=1",
            "\u{feff}de",
            "zh-\u{10ffff}",
            "en;q=0.\u{e9}",
        ];
        for sample in samples {
            let _ = Lang::negotiate(Some(sample));
        }
        // Multi-byte characters straddling the 1 KiB limit.
        for shift in 0..4 {
            let header = format!("{}{}", "x".repeat(shift), "語".repeat(MAX_HEADER_BYTES));
            check(Some(&header), Lang::En);
            let header = format!("ja,{}", "語".repeat(MAX_HEADER_BYTES + shift));
            check(Some(&header), Lang::Ja);
        }
        // A deterministic pseudo-random sweep of short inputs over a hostile alphabet.
        let alphabet: Vec<char> = "aZ-*;q=0.1, \t\u{e9}語\u{0}".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut sample = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            for step in 0..len {
                let pick = (state >> (step % 48)) as usize ^ step.wrapping_mul(31);
                sample.push(alphabet[pick % alphabet.len()]);
            }
            let _ = Lang::negotiate(Some(&sample));
        }
    }
}

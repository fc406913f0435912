//! Every reason code of the charging rules, as one enum shared by the core, the store, the CLI
//! and (later) the API and the console.

use std::fmt;

macro_rules! reasons {
    ($($variant:ident => $code:literal, $rule:literal, $text:literal;)*) => {
        /// A stable, machine-readable reason for a refusal or a rejected change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $(
                #[doc = $text]
                $variant,
            )*
        }

        impl Reason {
            /// Every reason, in the order of declaration.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The stable snake_case code (as written in the charging rules).
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The rule that produces this reason.
            pub fn rule(self) -> &'static str {
                match self { $(Reason::$variant => $rule,)* }
            }

            /// A short English description; localized texts live at the edge.
            pub fn describe(self) -> &'static str {
                match self { $(Reason::$variant => $text,)* }
            }

            /// Parses a stable code back into a reason.
            pub fn from_code(code: &str) -> Option<Reason> {
                match code { $($code => Some(Reason::$variant),)* _ => None }
            }
        }
    };
}

reasons! {
    PpmRequiresVolumeLicensing => "ppm_requires_volume_licensing", "C1", "pay-per-minute licenses need a volume licensing agreement";
    CountryPpmOnly => "country_ppm_only", "C2", "only pay-per-minute audio conferencing is sold in the tenant's country";
    CountryNotSupported => "country_not_supported", "C2", "audio conferencing is not sold in the tenant's country";
    CreditsUnavailableInCountry => "credits_unavailable_in_country", "C3", "Communications Credits are not available in the tenant's country";
    CreditsUnavailableForAgreement => "credits_unavailable_for_agreement", "C3", "Communications Credits are not available for a post-usage agreement";
    CreditsNotSetUp => "credits_not_set_up", "C4", "the Communications Credits wallet is not set up";
    NumberKindUnavailable => "number_kind_unavailable", "C4", "that kind of service number is not available in its country";
    LicenseLimitExceeded => "license_limit_exceeded", "C42", "all purchased licenses of that kind are already assigned";
    ConflictingConferencingLicenses => "conflicting_conferencing_licenses", "C42", "a user holds at most one of MCOMEETADD and MCOMEETACPEA";
    InvalidNumber => "invalid_number", "C8", "not a valid E.164 number";
    NoRate => "no_rate", "C9", "no rate in force for this call";
    AmountBelowMinimum => "amount_below_minimum", "C11", "the amount is below the minimum";
    AmountNotWhole => "amount_not_whole", "C11", "the amount is not a whole number of currency units";
    AmountOutOfRange => "amount_out_of_range", "C11", "an amount or a count is larger than the bound of its field";
    InsufficientCredits => "insufficient_credits", "C14", "the available balance is not positive";
    OrganizerNotEnabled => "organizer_not_enabled", "C18", "the organizer has no audio conferencing license";
    TollFreeDisabled => "toll_free_disabled", "C18", "toll-free dial-in is disabled for the organizer";
    PolicyDisabled => "policy_disabled", "C17", "the organizer's dial-out policy disables dial-out";
    PolicyDomesticOnly => "policy_domestic_only", "C17", "the organizer's dial-out policy allows domestic destinations only";
    PolicyZoneAOnly => "policy_zone_a_only", "C17", "the organizer's dial-out policy allows Zone A destinations only";
    CreditsLicenseMissing => "credits_license_missing", "C19", "the organizer needs the MCOPSTNPP license for credit-funded usage";
    CallIdReused => "call_id_reused", "C23", "this call_id was already submitted with different content";
    InvalidRecord => "invalid_record", "C38", "the call record is invalid";
    UnknownServiceNumber => "unknown_service_number", "C30", "the tenant has no such service number";
    FundingNotPermitted => "funding_not_permitted", "C3", "only the operator may fund a reseller tenant's wallet";
    UpnNotUnique => "upn_not_unique", "C41", "another user of the tenant has this UPN";
    InvalidPolicy => "invalid_policy", "C41", "unknown dial-out policy name";
    UnknownTenant => "unknown_tenant", "C41", "no such tenant";
    UnknownUser => "unknown_user", "C41", "no such user";
    FraudDestinationBlocked => "fraud_destination_blocked", "C45", "the destination is on the operator's high-risk list";
    FraudPremiumNotEnabled => "fraud_premium_not_enabled", "C45", "premium destinations are not enabled for the tenant";
    FraudConcurrencyLimit => "fraud_concurrency_limit", "C45", "too many live dial-outs for the organizer, the conference or the tenant";
    FraudCallRateLimit => "fraud_call_rate_limit", "C45", "too many dial-out attempts in the last minute";
    FraudSpendLimit => "fraud_spend_limit", "C45", "dial-out spending is far above the tenant's usual level";
    FraudCountryNotApproved => "fraud_country_not_approved", "C45", "calls to this country need the tenant admin's approval";
    FraudTestCallPattern => "fraud_test_call_pattern", "C45", "short test calls to this country were detected; it is blocked for a day";
    FraudDurationCap => "fraud_duration_cap", "C45", "the call reached the longest duration allowed for its destination";
    FraudDialoutSuspended => "fraud_dialout_suspended", "C45", "dial-out is suspended until the tenant admin or the operator lifts it";
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            assert!(
                seen.insert(reason.code()),
                "duplicate code {}",
                reason.code()
            );
            assert_eq!(Reason::from_code(reason.code()), Some(*reason));
        }
        assert_eq!(Reason::ALL.len(), 38);
    }
}

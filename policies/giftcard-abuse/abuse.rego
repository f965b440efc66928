# Gift card abuse: hard limits on card enumeration (balance checks) and card draining (redemptions).
#
# Input: the decision's facts (policy step with "input": "facts"): the case, already pseudonymized, and
# `features`, the platform's counts over its own history ({name: integer | null}), which the decision
# types define (window, entity, source). This file only says which feature each signal reads and how it
# is compared; every threshold and retryAfter lives in data.giftcard_abuse (data.json in this bundle).
#
# Output: {"reasons": [{code, message, rule, effect: "BLOCK"}], "retryAfter": seconds | null,
#          "signals": [{code, feature, fired, exempt, value, threshold, retryAfter}]}
# retryAfter is the largest retryAfter among the fired signals (null when none fired): the caller may
# pass it on, and it is never shorter than the window that must drain before the signal quietens.
# A signal marked deviceExempt counts many cards (or redemptions) on one device, which a shop till or a
# call-centre agent does all day: on a channel listed in deviceLimitsExemptChannels it never fires
# ("exempt": true in its signal); the per-card and per-IP signals still apply there.
# An amount signal's limit is in minor units of the redemption's currency: its thresholdByCurrency entry
# for that currency, else its threshold (1.1.0; 1.0.0 held one limit for every currency, so a limit meant
# as EUR 500.00 held a yen card to JPY 50000, about EUR 300, and a rupiah card to IDR 500). The amount features it
# reads are counted per currency (the decision type's keys), so amounts of two currencies never add up;
# the currency signals keep a card to one currency a day and a customer to two, so rotating the
# currency multiplies no card's limit and at most doubles a customer's.
# The softer CHALLENGE rules are the rule packs' (giftcard-balance-check-policy, giftcard-redemption-policy).
package giftcard.abuse

params := data.giftcard_abuse

# Features are counts "excluding the current decision", so ">=" threshold means: this attempt is the
# (threshold + 1)-th of the window. Amount signals add the current redemption to the window's sum and
# fire strictly above the limit (redeeming exactly up to the limit is allowed).
balance_check_defs := [
	{"code": "FAILED_CHECKS_IP_1H", "feature": "failedChecksIp1h", "what": "failed balance checks from this IP in the last hour"},
	{"code": "FAILED_CHECKS_IP_24H", "feature": "failedChecksIp24h", "what": "failed balance checks from this IP in the last 24 hours"},
	{"code": "FAILED_CHECKS_DEVICE_1H", "feature": "failedChecksDevice1h", "what": "failed balance checks from this device in the last hour"},
	{"code": "FAILED_CHECKS_DEVICE_24H", "feature": "failedChecksDevice24h", "what": "failed balance checks from this device in the last 24 hours"},
	{"code": "FAILED_CHECKS_CARD_1H", "feature": "failedChecksCard1h", "what": "failed balance checks on this card code in the last hour"},
	{"code": "FAILED_CHECKS_CARD_24H", "feature": "failedChecksCard24h", "what": "failed balance checks on this card code in the last 24 hours"},
	{"code": "DISTINCT_CARDS_DEVICE_1H", "feature": "distinctCardsDevice1h", "deviceExempt": true, "what": "distinct card codes checked from this device in the last hour, this one included"},
	{"code": "DISTINCT_CARDS_DEVICE_24H", "feature": "distinctCardsDevice24h", "deviceExempt": true, "what": "distinct card codes checked from this device in the last 24 hours, this one included"},
	{"code": "DISTINCT_CARDS_IP_1H", "feature": "distinctFoundCardsIp1h", "what": "distinct found cards checked from this IP in the last hour, this one included"},
	{"code": "DISTINCT_CARDS_IP_24H", "feature": "distinctFoundCardsIp24h", "what": "distinct found cards checked from this IP in the last 24 hours, this one included"},
]

redemption_defs := [
	{"code": "REDEMPTIONS_CARD_1H", "feature": "redemptionsCard1h", "what": "redemptions on this card in the last hour"},
	{"code": "REDEEMED_AMOUNT_CARD_24H", "feature": "redeemedAmountCard24h", "plusAmount": true, "what": "redeemed on this card in the last 24 hours, this redemption included"},
	{"code": "REDEMPTIONS_CUSTOMER_1H", "feature": "redemptionsCustomer1h", "what": "redemptions by this customer in the last hour"},
	{"code": "REDEEMED_AMOUNT_CUSTOMER_24H", "feature": "redeemedAmountCustomer24h", "plusAmount": true, "what": "redeemed by this customer in the last 24 hours, this redemption included"},
	{"code": "DISTINCT_CARDS_CUSTOMER_24H", "feature": "distinctCardsCustomer24h", "what": "distinct cards redeemed by this customer in the last 24 hours, this one included"},
	{"code": "FAILED_CHECKS_DEVICE_1H", "feature": "failedChecksDevice1h", "what": "failed balance checks from this device in the last hour"},
	{"code": "REDEMPTIONS_DEVICE_1H", "feature": "redemptionsDevice1h", "deviceExempt": true, "what": "redemptions from this device in the last hour"},
	{"code": "REDEMPTIONS_IP_1H", "feature": "redemptionsIp1h", "what": "redemptions from this IP in the last hour"},
	{"code": "DISTINCT_CARDS_DEVICE_24H", "feature": "distinctCardsDevice24h", "deviceExempt": true, "what": "distinct cards redeemed from this device in the last 24 hours, this one included"},
	{"code": "DISTINCT_CARDS_IP_24H", "feature": "distinctCardsIp24h", "what": "distinct cards redeemed from this IP in the last 24 hours, this one included"},
	{"code": "DISTINCT_CUSTOMERS_CARD_24H", "feature": "distinctCustomersCard24h", "what": "distinct customers redeeming this card in the last 24 hours, this one included"},
	{"code": "DISTINCT_CURRENCIES_CARD_24H", "feature": "distinctCurrenciesCard24h", "what": "distinct currencies this card was redeemed in during the last 24 hours, this one included"},
	{"code": "DISTINCT_CURRENCIES_CUSTOMER_24H", "feature": "distinctCurrenciesCustomer24h", "what": "distinct currencies this customer redeemed in during the last 24 hours, this one included"},
]

plus_amount(def) := object.get(def, "plusAmount", false)

# object.get with a null default: an absent feature (or an absent features fact) yields value null,
# which never fires, instead of making the whole answer undefined.
feature_value(def) := object.get(input, ["features", def.feature], null)

value_of(def) := v if {
	plus_amount(def)
	f := feature_value(def)
	a := object.get(input, ["amount"], null)
	is_number(f)
	is_number(a)
	v := f + a
} else := null if {
	plus_amount(def)
} else := feature_value(def)

# The limit that applies: an amount signal's entry for the redemption's currency, when data lists one.
threshold_of(def, p) := t if {
	plus_amount(def)
	t := p.thresholdByCurrency[input.currency]
} else := p.threshold

# Numeric comparisons demand a number: Rego orders null below every number.
default fired(_, _, _) := false

fired(true, value, threshold) if {
	is_number(value)
	value > threshold
}

fired(false, value, threshold) if {
	is_number(value)
	value >= threshold
}

# An absent list exempts nothing: a missing setting blocks more, never less.
exempt(def) if {
	object.get(def, "deviceExempt", false)
	input.channel in object.get(params, "deviceLimitsExemptChannels", [])
}

is_exempt(def) := true if exempt(def)

else := false

# Array comprehension over an array keeps the defs' order, so the output is deterministic.
signals_of(defs, config) := [s |
	some def in defs
	p := config[def.code]
	v := value_of(def)
	e := is_exempt(def)
	t := threshold_of(def, p)
	s := {
		"code": def.code,
		"feature": def.feature,
		"fired": unless_exempt(e, fired(plus_amount(def), v, t)),
		"exempt": e,
		"value": v,
		"threshold": t,
		"retryAfter": p.retryAfter,
	}
]

unless_exempt(true, _) := false

unless_exempt(false, f) := f

# Numbers in messages: json.marshal, not format_int (which fails beyond 32 bits in Wasm).
num(x) := json.marshal(x)

# "minor units of JPY": a limit differs per currency, so the message names the one compared.
units := concat("", [" minor units of ", input.currency]) if is_string(input.currency)

else := " minor units"

message(def, s) := concat("", [num(s.value), units, " ", def.what, " (limit ", num(s.threshold), units, ")"]) if plus_amount(def)

message(def, s) := concat("", [num(s.value), " ", def.what, " (threshold ", num(s.threshold), ")"]) if not plus_amount(def)

reasons_of(defs, signals) := [r |
	some i, s in signals
	s.fired
	r := {
		"code": s.code,
		"message": message(defs[i], s),
		"rule": concat(".", ["signal", s.code]),
		"effect": "BLOCK",
	}
]

retry_after_of(signals) := m if {
	waits := [s.retryAfter | some s in signals; s.fired]
	count(waits) > 0
	m := max(waits)
} else := null

assess(defs, config) := answer if {
	signals := signals_of(defs, config)

	# A signal missing from data would silently never fire; leave the answer undefined instead,
	# which the platform treats as an evaluation failure.
	count(signals) == count(defs)
	answer := {
		"reasons": reasons_of(defs, signals),
		"retryAfter": retry_after_of(signals),
		"signals": signals,
	}
}

balance_check := assess(balance_check_defs, params.balance_check)

redemption := assess(redemption_defs, params.redemption)

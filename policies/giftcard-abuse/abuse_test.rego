# Tests for giftcard.abuse: every signal at and across its boundary (thresholds read from data, so
# retuning data.json keeps these tests meaningful), retryAfter, reasons and missing inputs.
package giftcard.abuse_test

import data.giftcard.abuse

# Facts as the decision types hand them over: pseudonymized keys, and every feature quiet.
check_base := {
	"cardCode": "pii_c2lnbmF0dXJl_9Z1Q",
	"ip": "pii_aXA",
	"deviceId": "pii_ZGV2aWNl",
	"channel": "web",
	"requestedAt": "2026-03-01T10:00:00Z",
	"cardFound": false,
	"features": {
		"failedChecksIp1h": 0, "failedChecksIp24h": 0,
		"failedChecksDevice1h": 0, "failedChecksDevice24h": 0,
		"failedChecksCard1h": 0, "failedChecksCard24h": 0,
		"distinctCardsDevice1h": 1, "distinctCardsDevice24h": 1,
		"distinctFoundCardsIp1h": 1, "distinctFoundCardsIp24h": 1,
	},
}

redeem_base := {
	"cardCode": "pii_c2lnbmF0dXJl_9Z1Q",
	"ip": "pii_aXA",
	"deviceId": "pii_ZGV2aWNl",
	"customerId": "pii_Y3VzdG9tZXI",
	"channel": "web",
	"requestedAt": "2026-03-01T10:00:00Z",
	"amount": 2500,
	"currency": "EUR",
	"features": {
		"redemptionsCard1h": 0, "redeemedAmountCard24h": 0,
		"redemptionsCustomer1h": 0, "redeemedAmountCustomer24h": 0,
		"distinctCardsCustomer24h": 1, "failedChecksDevice1h": 0,
		"deviceFirstSeen": 864000,
		"redemptionsDevice1h": 0, "redemptionsIp1h": 0,
		"distinctCardsDevice24h": 1, "distinctCardsIp24h": 1, "distinctCustomersCard24h": 1,
		"distinctCurrenciesCard24h": 1, "distinctCurrenciesCustomer24h": 1,
	},
}

check_with(features) := object.union(check_base, {"features": object.union(check_base.features, features)})

redeem_with(features) := object.union(redeem_base, {"features": object.union(redeem_base.features, features)})

signal(answer, code) := s if {
	some s in answer.signals
	s.code == code
}

reason_codes(answer) := [r.code | some r in answer.reasons]

bc := data.giftcard_abuse.balance_check

rd := data.giftcard_abuse.redemption

# The count-style signals of a balance check: code -> feature.
check_counts := {
	"FAILED_CHECKS_IP_1H": "failedChecksIp1h",
	"FAILED_CHECKS_IP_24H": "failedChecksIp24h",
	"FAILED_CHECKS_DEVICE_1H": "failedChecksDevice1h",
	"FAILED_CHECKS_DEVICE_24H": "failedChecksDevice24h",
	"FAILED_CHECKS_CARD_1H": "failedChecksCard1h",
	"FAILED_CHECKS_CARD_24H": "failedChecksCard24h",
	"DISTINCT_CARDS_DEVICE_1H": "distinctCardsDevice1h",
	"DISTINCT_CARDS_DEVICE_24H": "distinctCardsDevice24h",
	"DISTINCT_CARDS_IP_1H": "distinctFoundCardsIp1h",
	"DISTINCT_CARDS_IP_24H": "distinctFoundCardsIp24h",
}

redeem_counts := {
	"REDEMPTIONS_CARD_1H": "redemptionsCard1h",
	"REDEMPTIONS_CUSTOMER_1H": "redemptionsCustomer1h",
	"DISTINCT_CARDS_CUSTOMER_24H": "distinctCardsCustomer24h",
	"FAILED_CHECKS_DEVICE_1H": "failedChecksDevice1h",
	"REDEMPTIONS_DEVICE_1H": "redemptionsDevice1h",
	"REDEMPTIONS_IP_1H": "redemptionsIp1h",
	"DISTINCT_CARDS_DEVICE_24H": "distinctCardsDevice24h",
	"DISTINCT_CARDS_IP_24H": "distinctCardsIp24h",
	"DISTINCT_CUSTOMERS_CARD_24H": "distinctCustomersCard24h",
	"DISTINCT_CURRENCIES_CARD_24H": "distinctCurrenciesCard24h",
	"DISTINCT_CURRENCIES_CUSTOMER_24H": "distinctCurrenciesCustomer24h",
}

# --- quiet cases ---

test_quiet_balance_check_allows_nothing if {
	a := abuse.balance_check with input as check_base
	a.reasons == []
	a.retryAfter == null
	[s.code | some s in a.signals; s.fired] == []
}

test_quiet_redemption_blocks_nothing if {
	a := abuse.redemption with input as redeem_base
	a.reasons == []
	a.retryAfter == null
}

test_balance_check_signals_in_stable_order if {
	a := abuse.balance_check with input as check_base
	[s.code | some s in a.signals] == [
		"FAILED_CHECKS_IP_1H", "FAILED_CHECKS_IP_24H", "FAILED_CHECKS_DEVICE_1H", "FAILED_CHECKS_DEVICE_24H",
		"FAILED_CHECKS_CARD_1H", "FAILED_CHECKS_CARD_24H", "DISTINCT_CARDS_DEVICE_1H", "DISTINCT_CARDS_DEVICE_24H",
		"DISTINCT_CARDS_IP_1H", "DISTINCT_CARDS_IP_24H",
	]
}

test_redemption_signals_in_stable_order if {
	a := abuse.redemption with input as redeem_base
	[s.code | some s in a.signals] == [
		"REDEMPTIONS_CARD_1H", "REDEEMED_AMOUNT_CARD_24H", "REDEMPTIONS_CUSTOMER_1H",
		"REDEEMED_AMOUNT_CUSTOMER_24H", "DISTINCT_CARDS_CUSTOMER_24H", "FAILED_CHECKS_DEVICE_1H",
		"REDEMPTIONS_DEVICE_1H", "REDEMPTIONS_IP_1H", "DISTINCT_CARDS_DEVICE_24H", "DISTINCT_CARDS_IP_24H",
		"DISTINCT_CUSTOMERS_CARD_24H", "DISTINCT_CURRENCIES_CARD_24H", "DISTINCT_CURRENCIES_CUSTOMER_24H",
	]
}

# --- every balance-check count: threshold - 1 is quiet, threshold fires alone, with its retryAfter ---

test_each_balance_check_signal_below_threshold_is_quiet if {
	every code, feature in check_counts {
		a := abuse.balance_check with input as check_with({feature: bc[code].threshold - 1})
		not signal(a, code).fired
		a.reasons == []
		a.retryAfter == null
	}
}

test_each_balance_check_signal_at_threshold_blocks if {
	every code, feature in check_counts {
		a := abuse.balance_check with input as check_with({feature: bc[code].threshold})
		signal(a, code).fired
		signal(a, code).value == bc[code].threshold
		reason_codes(a) == [code]
		a.reasons[0].effect == "BLOCK"
		a.reasons[0].rule == concat("", ["signal.", code])
		a.retryAfter == bc[code].retryAfter
	}
}

test_each_balance_check_signal_far_above_threshold_blocks if {
	every code, feature in check_counts {
		a := abuse.balance_check with input as check_with({feature: bc[code].threshold + 5000})
		signal(a, code).fired
	}
}

test_signal_entry_shape if {
	a := abuse.balance_check with input as check_with({"failedChecksIp1h": 20})
	signal(a, "FAILED_CHECKS_IP_1H") == {
		"code": "FAILED_CHECKS_IP_1H", "feature": "failedChecksIp1h", "fired": true, "exempt": false,
		"value": 20, "threshold": 20, "retryAfter": 3600,
	}
}

test_reason_message_names_count_and_threshold if {
	a := abuse.balance_check with input as check_with({"failedChecksDevice1h": 12})
	a.reasons == [{
		"code": "FAILED_CHECKS_DEVICE_1H",
		"message": "12 failed balance checks from this device in the last hour (threshold 10)",
		"rule": "signal.FAILED_CHECKS_DEVICE_1H",
		"effect": "BLOCK",
	}]
}

# --- every redemption count ---

test_each_redemption_count_below_threshold_is_quiet if {
	every code, feature in redeem_counts {
		a := abuse.redemption with input as redeem_with({feature: rd[code].threshold - 1})
		not signal(a, code).fired
		a.reasons == []
	}
}

test_each_redemption_count_at_threshold_blocks if {
	every code, feature in redeem_counts {
		a := abuse.redemption with input as redeem_with({feature: rd[code].threshold})
		reason_codes(a) == [code]
		a.retryAfter == rd[code].retryAfter
	}
}

# --- amounts: the window's sum plus this redemption, strictly above the limit ---

test_card_amount_exactly_at_limit_is_allowed if {
	limit := rd.REDEEMED_AMOUNT_CARD_24H.threshold
	a := abuse.redemption with input as redeem_with({"redeemedAmountCard24h": limit - redeem_base.amount})
	s := signal(a, "REDEEMED_AMOUNT_CARD_24H")
	s.value == limit
	not s.fired
	a.reasons == []
}

test_card_amount_one_unit_over_limit_blocks if {
	limit := rd.REDEEMED_AMOUNT_CARD_24H.threshold
	a := abuse.redemption with input as redeem_with({"redeemedAmountCard24h": (limit - redeem_base.amount) + 1})
	signal(a, "REDEEMED_AMOUNT_CARD_24H").value == limit + 1
	reason_codes(a) == ["REDEEMED_AMOUNT_CARD_24H"]
	a.retryAfter == rd.REDEEMED_AMOUNT_CARD_24H.retryAfter
	a.reasons[0].message == "50001 minor units of EUR redeemed on this card in the last 24 hours, this redemption included (limit 50000 minor units of EUR)"
}

# --- amount limits per currency (1.1.0) ---

# A currency data lists gets its own limit, at and across its boundary, for the card and the customer.
test_amount_limits_of_a_listed_currency if {
	card := rd.REDEEMED_AMOUNT_CARD_24H.thresholdByCurrency.JPY
	customer := rd.REDEEMED_AMOUNT_CUSTOMER_24H.thresholdByCurrency.JPY
	card != rd.REDEEMED_AMOUNT_CARD_24H.threshold
	yen := object.union(redeem_base, {"currency": "JPY", "amount": 1000})
	at := abuse.redemption with input as object.union(yen, {"features": object.union(yen.features, {"redeemedAmountCard24h": card - 1000, "redeemedAmountCustomer24h": customer - 1000})})
	at.reasons == []
	signal(at, "REDEEMED_AMOUNT_CARD_24H").threshold == card
	signal(at, "REDEEMED_AMOUNT_CUSTOMER_24H").threshold == customer
	over := abuse.redemption with input as object.union(yen, {"features": object.union(yen.features, {"redeemedAmountCard24h": card - 999, "redeemedAmountCustomer24h": customer - 999})})
	reason_codes(over) == ["REDEEMED_AMOUNT_CARD_24H", "REDEEMED_AMOUNT_CUSTOMER_24H"]
	over.reasons[0].message == concat("", [json.marshal(card + 1), " minor units of JPY redeemed on this card in the last 24 hours, this redemption included (limit ", json.marshal(card), " minor units of JPY)"])
}

# A redemption the default limit would block passes under its currency's higher one.
test_listed_currency_is_not_held_to_the_default_limit if {
	a := abuse.redemption with input as object.union(redeem_base, {"currency": "JPY", "amount": rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1})
	rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1 <= rd.REDEEMED_AMOUNT_CARD_24H.thresholdByCurrency.JPY
	not "REDEEMED_AMOUNT_CARD_24H" in reason_codes(a)
}

# A currency data does not list, or no currency at all, is held to threshold.
test_unlisted_or_absent_currency_uses_threshold if {
	not rd.REDEEMED_AMOUNT_CARD_24H.thresholdByCurrency.USD
	usd := abuse.redemption with input as object.union(redeem_base, {"currency": "USD", "amount": rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1})
	signal(usd, "REDEEMED_AMOUNT_CARD_24H").threshold == rd.REDEEMED_AMOUNT_CARD_24H.threshold
	"REDEEMED_AMOUNT_CARD_24H" in reason_codes(usd)
	none := abuse.redemption with input as object.remove(object.union(redeem_base, {"amount": rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1}), ["currency"])
	some r in none.reasons
	r.code == "REDEEMED_AMOUNT_CARD_24H"
	r.message == concat("", [json.marshal(rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1), " minor units redeemed on this card in the last 24 hours, this redemption included (limit ", json.marshal(rd.REDEEMED_AMOUNT_CARD_24H.threshold), " minor units)"])
}

# Count signals have no currency: a table on one changes nothing.
test_count_signals_ignore_currency_tables if {
	a := abuse.redemption with input as redeem_with({"redemptionsCard1h": rd.REDEMPTIONS_CARD_1H.threshold})
		with data.giftcard_abuse.redemption.REDEMPTIONS_CARD_1H as {"threshold": rd.REDEMPTIONS_CARD_1H.threshold, "retryAfter": 3600, "thresholdByCurrency": {"EUR": 1000}}
	"REDEMPTIONS_CARD_1H" in reason_codes(a)
	signal(a, "REDEMPTIONS_CARD_1H").threshold == rd.REDEMPTIONS_CARD_1H.threshold
}

test_single_redemption_over_card_limit_blocks_on_empty_history if {
	a := abuse.redemption with input as object.union(redeem_base, {"amount": rd.REDEEMED_AMOUNT_CARD_24H.threshold + 1})
	"REDEEMED_AMOUNT_CARD_24H" in reason_codes(a)
}

test_customer_amount_at_and_over_limit if {
	limit := rd.REDEEMED_AMOUNT_CUSTOMER_24H.threshold
	at := abuse.redemption with input as redeem_with({"redeemedAmountCustomer24h": limit - redeem_base.amount})
	not signal(at, "REDEEMED_AMOUNT_CUSTOMER_24H").fired
	over := abuse.redemption with input as redeem_with({"redeemedAmountCustomer24h": (limit - redeem_base.amount) + 1})
	reason_codes(over) == ["REDEEMED_AMOUNT_CUSTOMER_24H"]
}

test_amounts_beyond_32_bits_still_format if {
	a := abuse.redemption with input as redeem_with({"redeemedAmountCustomer24h": 3000000000})
	some r in a.reasons
	r.code == "REDEEMED_AMOUNT_CUSTOMER_24H"
	contains(r.message, "3000002500")
}

# --- retryAfter: the largest among fired signals ---

test_retry_after_is_the_largest_fired if {
	a := abuse.balance_check with input as check_with({
		"failedChecksIp1h": bc.FAILED_CHECKS_IP_1H.threshold,
		"failedChecksIp24h": bc.FAILED_CHECKS_IP_24H.threshold,
	})
	reason_codes(a) == ["FAILED_CHECKS_IP_1H", "FAILED_CHECKS_IP_24H"]
	a.retryAfter == max([bc.FAILED_CHECKS_IP_1H.retryAfter, bc.FAILED_CHECKS_IP_24H.retryAfter])
}

test_retry_after_comes_from_data if {
	a := abuse.balance_check with input as check_with({"failedChecksCard1h": 5})
		with data.giftcard_abuse.balance_check.FAILED_CHECKS_CARD_1H as {"threshold": 5, "retryAfter": 900}
	a.retryAfter == 900
}

test_thresholds_come_from_data if {
	a := abuse.balance_check with input as check_with({"failedChecksIp1h": 20})
		with data.giftcard_abuse.balance_check.FAILED_CHECKS_IP_1H as {"threshold": 21, "retryAfter": 3600}
	a.reasons == []
}

# --- missing or null features never fire; missing data leaves the answer undefined ---

test_absent_features_fact_is_quiet if {
	a := abuse.balance_check with input as object.remove(check_base, ["features"])
	a.reasons == []
	signal(a, "FAILED_CHECKS_IP_1H").value == null
}

test_null_feature_is_quiet if {
	a := abuse.redemption with input as redeem_with({"redeemedAmountCard24h": null, "redemptionsCard1h": null})
	signal(a, "REDEEMED_AMOUNT_CARD_24H").value == null
	a.reasons == []
}

test_absent_amount_is_quiet if {
	a := abuse.redemption with input as object.remove(redeem_base, ["amount"])
	signal(a, "REDEEMED_AMOUNT_CARD_24H").value == null
	a.reasons == []
}

test_missing_signal_config_leaves_answer_undefined if {
	not abuse.balance_check with input as check_base
		with data.giftcard_abuse as json.remove(data.giftcard_abuse, ["balance_check/FAILED_CHECKS_CARD_24H"])
}

# --- an enumeration run: everything fires, reasons in signal order ---

test_everything_fires_in_signal_order if {
	a := abuse.balance_check with input as check_with({
		"failedChecksIp1h": 5000, "failedChecksIp24h": 5000,
		"failedChecksDevice1h": 5000, "failedChecksDevice24h": 5000,
		"failedChecksCard1h": 5000, "failedChecksCard24h": 5000,
		"distinctCardsDevice1h": 5000, "distinctCardsDevice24h": 5000,
		"distinctFoundCardsIp1h": 5000, "distinctFoundCardsIp24h": 5000,
	})
	reason_codes(a) == [s.code | some s in a.signals]
	every r in a.reasons {
		r.effect == "BLOCK"
	}
	a.retryAfter == 86400
}

# --- shop tills and call-centre agents: per-device card counts do not apply, per-card and per-IP ones do ---

exempt_channels := data.giftcard_abuse.deviceLimitsExemptChannels

check_device_cards := {"DISTINCT_CARDS_DEVICE_1H": "distinctCardsDevice1h", "DISTINCT_CARDS_DEVICE_24H": "distinctCardsDevice24h"}

redeem_device_counts := {
	"REDEMPTIONS_DEVICE_1H": "redemptionsDevice1h",
	"DISTINCT_CARDS_DEVICE_24H": "distinctCardsDevice24h",
}

test_exempt_channels_are_till_and_agent if {
	exempt_channels == ["in_store", "agent"]
}

test_device_card_counts_do_not_block_exempt_channels if {
	every channel in exempt_channels {
		every code, feature in check_device_cards {
			a := abuse.balance_check with input as object.union(check_with({feature: bc[code].threshold + 100}), {"channel": channel})
			not signal(a, code).fired
			signal(a, code).exempt
			a.reasons == []
			a.retryAfter == null
		}
		every code, feature in redeem_device_counts {
			a := abuse.redemption with input as object.union(redeem_with({feature: rd[code].threshold + 100}), {"channel": channel})
			not signal(a, code).fired
			signal(a, code).exempt
			a.reasons == []
		}
	}
}

test_device_card_counts_still_block_other_channels if {
	every channel in ["web", "mobile_app", "api"] {
		every code, feature in check_device_cards {
			a := abuse.balance_check with input as object.union(check_with({feature: bc[code].threshold}), {"channel": channel})
			reason_codes(a) == [code]
			not signal(a, code).exempt
		}
		every code, feature in redeem_device_counts {
			a := abuse.redemption with input as object.union(redeem_with({feature: rd[code].threshold}), {"channel": channel})
			reason_codes(a) == [code]
		}
	}
}

# Failed checks from a till are still enumeration; the IP and card counts still protect a shop's network.
test_exempt_channel_keeps_failed_check_card_and_ip_limits if {
	a := abuse.balance_check with input as object.union(check_with({
		"failedChecksDevice1h": bc.FAILED_CHECKS_DEVICE_1H.threshold,
		"failedChecksCard1h": bc.FAILED_CHECKS_CARD_1H.threshold,
		"distinctFoundCardsIp1h": bc.DISTINCT_CARDS_IP_1H.threshold,
		"distinctCardsDevice1h": bc.DISTINCT_CARDS_DEVICE_1H.threshold,
	}), {"channel": "in_store"})
	reason_codes(a) == ["FAILED_CHECKS_DEVICE_1H", "FAILED_CHECKS_CARD_1H", "DISTINCT_CARDS_IP_1H"]
	r := abuse.redemption with input as object.union(redeem_with({
		"redemptionsIp1h": rd.REDEMPTIONS_IP_1H.threshold,
		"distinctCardsIp24h": rd.DISTINCT_CARDS_IP_24H.threshold,
		"distinctCustomersCard24h": rd.DISTINCT_CUSTOMERS_CARD_24H.threshold,
		"redemptionsCard1h": rd.REDEMPTIONS_CARD_1H.threshold,
		"redemptionsDevice1h": rd.REDEMPTIONS_DEVICE_1H.threshold,
	}), {"channel": "agent"})
	reason_codes(r) == ["REDEMPTIONS_CARD_1H", "REDEMPTIONS_IP_1H", "DISTINCT_CARDS_IP_24H", "DISTINCT_CUSTOMERS_CARD_24H"]
	r.retryAfter == 86400
}

test_exempt_list_comes_from_data if {
	a := abuse.balance_check with input as object.union(check_with({"distinctCardsDevice1h": 50}), {"channel": "in_store"})
		with data.giftcard_abuse.deviceLimitsExemptChannels as ["agent"]
	reason_codes(a) == ["DISTINCT_CARDS_DEVICE_1H"]
}

test_absent_exempt_list_exempts_nothing if {
	a := abuse.balance_check with input as object.union(check_with({"distinctCardsDevice1h": 50}), {"channel": "in_store"})
		with data.giftcard_abuse as json.remove(data.giftcard_abuse, ["deviceLimitsExemptChannels"])
	reason_codes(a) == ["DISTINCT_CARDS_DEVICE_1H"]
}

# --- draining with many valid codes: the new per-device / per-IP / per-card counts at their boundaries ---

test_draining_limits_at_their_boundaries if {
	rd.REDEMPTIONS_DEVICE_1H.threshold == 10
	rd.REDEMPTIONS_IP_1H.threshold == 20
	rd.DISTINCT_CARDS_DEVICE_24H.threshold == 10
	rd.DISTINCT_CARDS_IP_24H.threshold == 20
	rd.DISTINCT_CUSTOMERS_CARD_24H.threshold == 3
	two := abuse.redemption with input as redeem_with({"distinctCustomersCard24h": 2})
	two.reasons == []
	three := abuse.redemption with input as redeem_with({"distinctCustomersCard24h": 3})
	reason_codes(three) == ["DISTINCT_CUSTOMERS_CARD_24H"]
	three.retryAfter == 86400
}

test_found_cards_per_ip_at_their_boundaries if {
	bc.DISTINCT_CARDS_IP_1H.threshold == 30
	bc.DISTINCT_CARDS_IP_24H.threshold == 100
	below := abuse.balance_check with input as check_with({"distinctFoundCardsIp1h": 29, "distinctFoundCardsIp24h": 99})
	below.reasons == []
	at := abuse.balance_check with input as check_with({"distinctFoundCardsIp1h": 30, "distinctFoundCardsIp24h": 99})
	reason_codes(at) == ["DISTINCT_CARDS_IP_1H"]
	at.retryAfter == 3600
	day := abuse.balance_check with input as check_with({"distinctFoundCardsIp1h": 30, "distinctFoundCardsIp24h": 100})
	reason_codes(day) == ["DISTINCT_CARDS_IP_1H", "DISTINCT_CARDS_IP_24H"]
	day.retryAfter == 86400
}

# A card is redeemed in one currency a day, a customer in at most two: rotating the currency (each with a
# limit of its own) multiplies no amount limit.
test_currency_rotation_at_its_boundaries if {
	rd.DISTINCT_CURRENCIES_CARD_24H.threshold == 2
	rd.DISTINCT_CURRENCIES_CUSTOMER_24H.threshold == 3
	one := abuse.redemption with input as redeem_with({"distinctCurrenciesCard24h": 1, "distinctCurrenciesCustomer24h": 2})
	one.reasons == []
	second := abuse.redemption with input as redeem_with({"distinctCurrenciesCard24h": 2, "distinctCurrenciesCustomer24h": 2})
	reason_codes(second) == ["DISTINCT_CURRENCIES_CARD_24H"]
	second.retryAfter == 86400
	third := abuse.redemption with input as redeem_with({"distinctCurrenciesCustomer24h": 3})
	reason_codes(third) == ["DISTINCT_CURRENCIES_CUSTOMER_24H"]
}

# 1.2.0: about €500 in each listed currency: a weak currency is not held to 500.00 of it, a strong one not let past €500.
test_weak_and_strong_currencies_have_their_own_limits if {
	brl := abuse.redemption with input as object.union(redeem_base, {"currency": "BRL", "amount": rd.REDEEMED_AMOUNT_CARD_24H.threshold * 5})
	not "REDEEMED_AMOUNT_CARD_24H" in reason_codes(brl)
	gbp_limit := rd.REDEEMED_AMOUNT_CARD_24H.thresholdByCurrency.GBP
	gbp_limit < rd.REDEEMED_AMOUNT_CARD_24H.threshold
	gbp := abuse.redemption with input as object.union(redeem_base, {"currency": "GBP", "amount": gbp_limit + 1})
	"REDEEMED_AMOUNT_CARD_24H" in reason_codes(gbp)
	at_limit := abuse.redemption with input as object.union(redeem_base, {"currency": "GBP", "amount": gbp_limit})
	not "REDEEMED_AMOUNT_CARD_24H" in reason_codes(at_limit)
}

# Every listed currency's customer limit is twice its card limit, as the unlisted default's is.
test_customer_limits_are_twice_card_limits if {
	card := rd.REDEEMED_AMOUNT_CARD_24H
	customer := rd.REDEEMED_AMOUNT_CUSTOMER_24H
	customer.threshold == card.threshold * 2
	object.keys(customer.thresholdByCurrency) == object.keys(card.thresholdByCurrency)
	every code, limit in card.thresholdByCurrency {
		customer.thresholdByCurrency[code] == limit * 2
	}
}

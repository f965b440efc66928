# Tests for refund.risk: each signal at and across its boundary, the cap, band edges, reasons.
package refund.risk_test

import data.refund.risk

# A case that fires no signal: every fact sits just on the quiet side of its threshold.
base_case := {
	"refundId": "rf_1",
	"orderId": "ord_1",
	"customerId": "cus_1",
	"requestedAmount": 20000,
	"currency": "EUR",
	"reasonCode": "DAMAGED",
	"channel": "web",
	"requestedAt": "2025-03-01T10:00:00Z",
	"order": {
		"placedAt": "2025-02-01T10:00:00Z",
		"deliveredAt": null,
		"capturedAmount": 30000,
		"refundedAmount": 0,
		"items": [{"sku": "SKU-1", "amount": 30000, "finalSale": false, "category": "apparel"}],
	},
	"customer": {"accountAgeDays": 14, "refundCount30d": 2, "goodwillRefunds12m": 0, "priorChargebacks": 0},
	"payment": {"tender": "card", "cardExpired": false},
	"returnStatus": "received",
	"disputeOpen": false,
	"signals": {"ipRisk": "medium", "deviceAccounts": 2},
}

with_customer(patch) := object.union(base_case, {"customer": object.union(base_case.customer, patch)})

with_signals(patch) := object.union(base_case, {"signals": object.union(base_case.signals, patch)})

signal(result, code) := s if {
	some s in result.signals
	s.code == code
}

fired_codes(result) := [s.code | some s in result.signals; s.fired]

reason_codes(result) := [r.code | some r in result.reasons]

# Everything fires: 25 + 20 + 15 + 25 + 10 + 15 = 110, capped.
all_fire := object.union(base_case, {
	"requestedAmount": 20001,
	"customer": {"accountAgeDays": 13, "refundCount30d": 3, "goodwillRefunds12m": 0, "priorChargebacks": 1},
	"signals": {"ipRisk": "high", "deviceAccounts": 3},
})

# --- baseline ---

test_quiet_case_is_low_with_no_reasons if {
	r := risk.assessment with input as base_case
	r.score == 0
	r.band == "LOW"
	r.reasons == []
	fired_codes(r) == []
}

test_all_six_signals_listed_in_stable_order if {
	r := risk.assessment with input as base_case
	[s.code | some s in r.signals] == [
		"REFUND_VELOCITY_HIGH", "HIGH_AMOUNT", "NEW_ACCOUNT",
		"PRIOR_CHARGEBACK", "IP_RISK_HIGH", "DEVICE_SHARED",
	]
}

test_signal_entry_shape if {
	r := risk.assessment with input as with_customer({"refundCount30d": 3})
	signal(r, "REFUND_VELOCITY_HIGH") == {
		"code": "REFUND_VELOCITY_HIGH", "fired": true, "weight": 25,
		"fact": "customer.refundCount30d", "operator": ">=", "threshold": 3, "value": 3,
	}
}

# --- REFUND_VELOCITY_HIGH: >= 3 ---

test_velocity_below_threshold_not_fired if {
	r := risk.assessment with input as with_customer({"refundCount30d": 2})
	not signal(r, "REFUND_VELOCITY_HIGH").fired
}

test_velocity_at_threshold_fires if {
	r := risk.assessment with input as with_customer({"refundCount30d": 3})
	signal(r, "REFUND_VELOCITY_HIGH").fired
	r.score == 25
}

test_velocity_above_threshold_fires if {
	r := risk.assessment with input as with_customer({"refundCount30d": 9})
	signal(r, "REFUND_VELOCITY_HIGH").fired
}

# --- HIGH_AMOUNT: > 20000 ---

test_amount_at_threshold_not_fired if {
	r := risk.assessment with input as object.union(base_case, {"requestedAmount": 20000})
	not signal(r, "HIGH_AMOUNT").fired
}

test_amount_above_threshold_fires if {
	r := risk.assessment with input as object.union(base_case, {"requestedAmount": 20001})
	signal(r, "HIGH_AMOUNT").fired
	r.score == 20
}

# --- NEW_ACCOUNT: < 14 ---

test_account_at_threshold_not_fired if {
	r := risk.assessment with input as with_customer({"accountAgeDays": 14})
	not signal(r, "NEW_ACCOUNT").fired
}

test_account_below_threshold_fires if {
	r := risk.assessment with input as with_customer({"accountAgeDays": 13})
	signal(r, "NEW_ACCOUNT").fired
	r.score == 15
}

test_account_zero_days_fires if {
	r := risk.assessment with input as with_customer({"accountAgeDays": 0})
	signal(r, "NEW_ACCOUNT").fired
}

# --- PRIOR_CHARGEBACK: > 0 ---

test_no_chargebacks_not_fired if {
	r := risk.assessment with input as with_customer({"priorChargebacks": 0})
	not signal(r, "PRIOR_CHARGEBACK").fired
}

test_one_chargeback_fires if {
	r := risk.assessment with input as with_customer({"priorChargebacks": 1})
	signal(r, "PRIOR_CHARGEBACK").fired
	r.score == 25
}

# --- IP_RISK_HIGH: == "high" ---

test_ip_risk_low_and_medium_not_fired if {
	every level in ["low", "medium"] {
		r := risk.assessment with input as with_signals({"ipRisk": level})
		not signal(r, "IP_RISK_HIGH").fired
	}
}

test_ip_risk_high_fires if {
	r := risk.assessment with input as with_signals({"ipRisk": "high"})
	signal(r, "IP_RISK_HIGH").fired
	signal(r, "IP_RISK_HIGH").value == "high"
	r.score == 10
}

# --- DEVICE_SHARED: >= 3, optional fact ---

test_device_below_threshold_not_fired if {
	r := risk.assessment with input as with_signals({"deviceAccounts": 2})
	not signal(r, "DEVICE_SHARED").fired
}

test_device_at_threshold_fires if {
	r := risk.assessment with input as with_signals({"deviceAccounts": 3})
	signal(r, "DEVICE_SHARED").fired
	r.score == 15
}

test_device_absent_not_fired_value_null if {
	r := risk.assessment with input as json.remove(base_case, ["signals/deviceAccounts"])
	s := signal(r, "DEVICE_SHARED")
	s.fired == false
	s.value == null
	s.threshold == 3
	r.score == 0
}

test_signals_object_absent_still_assesses if {
	r := risk.assessment with input as object.remove(base_case, ["signals"])
	signal(r, "DEVICE_SHARED").value == null
	signal(r, "IP_RISK_HIGH").value == null
	r.band == "LOW"
}

# --- score, cap ---

test_score_sums_fired_weights if {
	# 25 + 25 = 50
	r := risk.assessment with input as with_customer({"refundCount30d": 3, "priorChargebacks": 2})
	r.score == 50
}

test_score_capped_at_100 if {
	r := risk.assessment with input as all_fire
	count(fired_codes(r)) == 6
	r.score == 100
	r.band == "HIGH"
}

test_cap_comes_from_data if {
	r := risk.assessment with input as all_fire with data.refund_risk.score_cap as 90
	r.score == 90
}

test_weights_and_thresholds_come_from_data if {
	r := risk.assessment with input as with_customer({"refundCount30d": 3})
		with data.refund_risk.signals.REFUND_VELOCITY_HIGH as {"weight": 40, "threshold": 4}
	not signal(r, "REFUND_VELOCITY_HIGH").fired
	signal(r, "REFUND_VELOCITY_HIGH").weight == 40
	r.score == 0
}

test_missing_signal_config_leaves_assessment_undefined if {
	# `with` on a base document merges objects, so replace the whole parameter set.
	not risk.assessment with input as base_case with data.refund_risk as json.remove(data.refund_risk, ["signals/NEW_ACCOUNT"])
}

# --- bands: 29 / 30 / 69 / 70 ---
# Weights are overridden so the score lands exactly on each edge.

edge_case := with_customer({"refundCount30d": 3})

score_of(weight) := r if {
	r := risk.assessment with input as edge_case
		with data.refund_risk.signals.REFUND_VELOCITY_HIGH as {"weight": weight, "threshold": 3}
}

test_band_29_is_low if {
	r := score_of(29)
	r.score == 29
	r.band == "LOW"
	r.reasons == []
}

test_band_30_is_elevated if {
	r := score_of(30)
	r.band == "ELEVATED"
	r.reasons[0] == {
		"code": "RISK_SCORE_ELEVATED", "effect": "REVIEW", "rule": "band.elevated",
		"message": "Risk score 30 is in the review band (30-69)",
	}
}

test_band_69_is_elevated if {
	r := score_of(69)
	r.band == "ELEVATED"
	r.reasons[0].code == "RISK_SCORE_ELEVATED"
}

test_band_70_is_high if {
	r := score_of(70)
	r.band == "HIGH"
	r.reasons[0] == {
		"code": "RISK_SCORE_HIGH", "effect": "DENY", "rule": "band.high",
		"message": "Risk score 70 is in the deny band (70-100)",
	}
}

test_band_limits_come_from_data if {
	r := score_of(30) with data.refund_risk.bands.elevated.min as 31
	r.band == "LOW"
}

# --- reasons ---

test_elevated_reasons_list_band_then_fired_signals if {
	# 25 velocity + 20 amount = 45
	r := risk.assessment with input as object.union(with_customer({"refundCount30d": 3}), {"requestedAmount": 25000})
	r.score == 45
	r.band == "ELEVATED"
	r.reasons == [
		{
			"code": "RISK_SCORE_ELEVATED", "effect": "REVIEW", "rule": "band.elevated",
			"message": "Risk score 45 is in the review band (30-69)",
		},
		{
			"code": "REFUND_VELOCITY_HIGH", "effect": "REVIEW", "rule": "signal.REFUND_VELOCITY_HIGH",
			"message": "3 refunds in the last 30 days (threshold 3)",
		},
		{
			"code": "HIGH_AMOUNT", "effect": "REVIEW", "rule": "signal.HIGH_AMOUNT",
			"message": "Requested amount 25000 is above 20000 (minor units)",
		},
	]
}

test_high_reasons_all_deny_in_signal_order if {
	r := risk.assessment with input as all_fire
	reason_codes(r) == [
		"RISK_SCORE_HIGH", "REFUND_VELOCITY_HIGH", "HIGH_AMOUNT", "NEW_ACCOUNT",
		"PRIOR_CHARGEBACK", "IP_RISK_HIGH", "DEVICE_SHARED",
	]
	every reason in r.reasons {
		reason.effect == "DENY"
	}
}

test_signal_reason_messages if {
	r := risk.assessment with input as all_fire
	[m.message | some m in r.reasons] == [
		"Risk score 100 is in the deny band (70-100)",
		"3 refunds in the last 30 days (threshold 3)",
		"Requested amount 20001 is above 20000 (minor units)",
		"Account is 13 days old (threshold: under 14)",
		"1 prior chargebacks (threshold: more than 0)",
		"IP risk is high",
		"Device shared by 3 accounts (threshold 3)",
	]
}

test_fired_signal_below_band_gives_no_reasons if {
	r := risk.assessment with input as with_signals({"ipRisk": "high"})
	r.score == 10
	r.band == "LOW"
	r.reasons == []
}

# Amounts beyond 32 bits must still format (format_int fails there in Wasm; json.marshal does not).
test_large_amount_message if {
	inp := object.union(base_case, {"requestedAmount": 3000000000, "customer": object.union(base_case.customer, {"refundCount30d": 5, "priorChargebacks": 1})})
	a := risk.assessment with input as inp
	a.band == "HIGH"
	some reason in a.reasons
	reason.code == "HIGH_AMOUNT"
	contains(reason.message, "3000000000")
}
